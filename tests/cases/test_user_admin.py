"""The admin of users and sites: an administrator who is not a superuser cannot make anyone,
herself included, a superuser or staff, cannot set another user's password or touch a
superuser; every attempt is refused with 403 and audited, every change audited."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.forms import MultiWidget

from cases import roles
from cases.models import AuditEvent, SiteMembership
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def site_it(site_a):
    """An administrator of the admin role with admin access, not a superuser."""
    return factories.UserFactory(username="site_it", role=roles.ADMIN, sites=[], is_staff=True)


def form_data(client, url: str, **changes) -> dict:
    """The admin change form at `url` as the browser would post it back, with `changes`."""
    page = client.get(url)
    assert page.status_code == 200
    data = {}
    forms = [page.context["adminform"].form]
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        forms += [formset.management_form, *formset.forms]
    for form in forms:
        for field in form:
            value = field.value()
            if value is None or value is False:
                continue
            widget = field.field.widget
            if isinstance(widget, MultiWidget):
                parts = value if isinstance(value, list | tuple) else widget.decompress(value)
                data.update({f"{field.html_name}_{i}": part for i, part in enumerate(parts)})
            elif isinstance(value, list | tuple):
                data[field.html_name] = [str(item) for item in value]
            else:
                data[field.html_name] = value
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def refused(actor: User) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=AuditEvent.Action.REFUSED, actor=actor))


def test_an_administrator_cannot_make_herself_superuser(client, site_it):
    client.force_login(site_it)
    url = f"/admin/auth/user/{site_it.pk}/change/"

    response = client.post(url, form_data(client, url, is_superuser="on", is_staff="on"))

    assert response.status_code == 403
    site_it.refresh_from_db()
    assert site_it.is_superuser is False
    [event] = refused(site_it)
    assert event.model == "auth.user"
    assert event.object_id == str(site_it.pk)
    assert "is_superuser" in event.detail


def test_an_administrator_cannot_grant_staff_or_permissions_to_another_user(client, site_it, staff):
    nurse = staff["nurse_a"]
    client.force_login(site_it)
    url = f"/admin/auth/user/{nurse.pk}/change/"
    data = form_data(client, url)

    assert client.post(url, {**data, "is_staff": "on"}).status_code == 403
    assert client.post(url, {**data, "user_permissions": ["1"]}).status_code == 403

    nurse.refresh_from_db()
    assert (nurse.is_staff, nurse.user_permissions.count()) == (False, 0)
    assert len(refused(site_it)) == 2


def test_the_privileged_flags_show_read_only_to_an_administrator(client, site_it, staff):
    client.force_login(site_it)

    form = client.get(f"/admin/auth/user/{staff['nurse_a'].pk}/change/").context["adminform"]

    assert not {"is_superuser", "is_staff", "user_permissions"} & set(form.form.fields)


def test_an_administrator_cannot_open_a_superusers_password_form(client, site_it, staff):
    superuser = staff["admin"]
    client.force_login(site_it)
    url = f"/admin/auth/user/{superuser.pk}/password/"

    assert client.get(url).status_code == 403
    response = client.post(url, {"password1": "taken-over-1", "password2": "taken-over-1"})

    assert response.status_code == 403
    superuser.refresh_from_db()
    assert not superuser.check_password("taken-over-1")
    assert len(refused(site_it)) == 2


def test_an_administrator_sets_no_other_users_password(client, site_it, staff):
    nurse = staff["nurse_a"]
    client.force_login(site_it)

    response = client.post(
        f"/admin/auth/user/{nurse.pk}/password/",
        {"password1": "chosen-by-it-1", "password2": "chosen-by-it-1"},
    )

    assert response.status_code == 403
    nurse.refresh_from_db()
    assert not nurse.check_password("chosen-by-it-1")


def test_an_administrator_cannot_change_a_superuser(client, site_it, staff):
    superuser = staff["admin"]
    client.force_login(site_it)
    url = f"/admin/auth/user/{superuser.pk}/change/"

    response = client.post(url, {"username": "admin", "is_active": ""})

    assert response.status_code == 403
    superuser.refresh_from_db()
    assert superuser.is_active is True


def test_an_administrator_changes_roles_and_sites_and_the_audit_says_what_changed(
    client, site_it, staff, site_b
):
    nurse = staff["nurse_a"]
    client.force_login(site_it)
    url = f"/admin/auth/user/{nurse.pk}/change/"
    data = form_data(client, url, last_name="Jansen")
    data["groups"] = [str(Group.objects.get(name=roles.PHARMACIST).pk)]
    data["site_memberships-1-site"] = str(site_b.pk)
    data["site_memberships-1-user"] = str(nurse.pk)

    response = client.post(url, data)

    assert response.status_code == 302, response.content.decode()[:2000]
    [event] = AuditEvent.objects.filter(
        action=AuditEvent.Action.UPDATE, model="auth.user", object_id=str(nurse.pk)
    )
    assert event.actor == site_it
    assert event.before["roles"] == [roles.NURSE]
    assert event.after["roles"] == [roles.PHARMACIST]
    assert event.before["sites"] == ["SITEA"]
    assert event.after["sites"] == ["SITEA", "SITEB"]
    assert (event.before["last_name"], event.after["last_name"]) == ("Tester", "Jansen")
    assert "password" not in event.after
    assert SiteMembership.objects.filter(user=nurse, site=site_b).exists()


def test_a_superuser_grants_staff_and_sets_a_password_audited(client, staff):
    nurse, superuser = staff["nurse_a"], staff["admin"]
    client.force_login(superuser)
    url = f"/admin/auth/user/{nurse.pk}/change/"

    first = client.post(url, form_data(client, url, is_staff="on"))
    assert first.status_code == 302, first.context["adminform"].form.errors
    response = client.post(
        f"/admin/auth/user/{nurse.pk}/password/",
        {"password1": "a-new-secret-9", "password2": "a-new-secret-9"},
    )

    assert response.status_code == 302
    nurse.refresh_from_db()
    assert nurse.is_staff
    assert nurse.check_password("a-new-secret-9")
    events = AuditEvent.objects.filter(model="auth.user", object_id=str(nurse.pk)).order_by("pk")
    assert [(event.action, event.detail) for event in events] == [
        (AuditEvent.Action.UPDATE, ""),
        (AuditEvent.Action.UPDATE, "password set"),
    ]
    assert (events[0].before["is_staff"], events[0].after["is_staff"]) == (False, True)


def test_a_site_member_added_on_the_site_page_is_audited(client, site_it, staff, site_b):
    nurse = staff["nurse_a"]
    client.force_login(site_it)
    url = f"/admin/cases/site/{site_b.pk}/change/"
    data = form_data(client, url)
    total = int(data["memberships-TOTAL_FORMS"])
    data[f"memberships-{total - 1}-user"] = str(nurse.pk)
    data[f"memberships-{total - 1}-site"] = str(site_b.pk)

    response = client.post(url, data)

    assert response.status_code == 302, response.content.decode()[:2000]
    [event] = AuditEvent.objects.filter(model="cases.site", object_id=str(site_b.pk))
    assert "nurse_a" not in event.before["members"]
    assert "nurse_a" in event.after["members"]
