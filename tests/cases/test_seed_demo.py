"""`seed_demo` (docs/configuration.md, "Demo data"): sites, one user per role and site, admin, a
cohort; idempotent."""

from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.test import RequestFactory

from cases import access
from cases.models import AdverseEvent, AuditEvent, DoseRegimen, Patient, Sample, Site, Treatment

pytestmark = pytest.mark.django_db

ROLE_USERS = {
    "nurse": "nurse", "pharmacist": "pharmacist", "physician": "physician",
    "datamanager": "datamanager",
}  # fmt: skip


def counts():
    return [
        m.objects.count()
        for m in (Site, Patient, Treatment, DoseRegimen, Sample, AdverseEvent, AuditEvent)
    ] + [get_user_model().objects.count()]


def login_request():
    """What the login page hands to `authenticate`: the sign-in lockout needs the request."""
    return RequestFactory().post("/accounts/login/")


def test_seed_demo_creates_sites_users_and_cohort():
    call_command("seed_demo", password="pw-for-test-1", stdout=StringIO())
    assert set(Site.objects.values_list("code", flat=True)) == {"DEMO", "DEMO2"}
    for suffix, site in (("", "DEMO"), ("2", "DEMO2")):
        for role in ROLE_USERS:
            user = authenticate(
                login_request(), username=f"{role}{suffix}", password="pw-for-test-1"
            )
            assert user is not None, f"{role}{suffix} cannot log in"
            assert access.user_roles(user) == {role}
            assert set(user.site_memberships.values_list("site__code", flat=True)) == {site}
    admin = authenticate(login_request(), username="admin", password="pw-for-test-1")
    assert admin is not None
    assert admin.is_superuser
    for code in ("DEMO", "DEMO2"):
        assert Patient.objects.filter(site__code=code).count() >= 2
        assert Sample.objects.filter(treatment__patient__site__code=code).exists()
    assert Sample.objects.filter(evaluable=True).exists()


def test_seed_demo_twice_changes_nothing():
    call_command("seed_demo", stdout=StringIO())
    before = counts()
    password_hashes = list(get_user_model().objects.order_by("pk").values_list("password"))
    out = StringIO()
    call_command("seed_demo", password="another-password", stdout=out)
    assert counts() == before
    assert list(get_user_model().objects.order_by("pk").values_list("password")) == password_hashes
    assert "new users: none" in out.getvalue()


def test_demo_users_see_only_their_site():
    call_command("seed_demo", stdout=StringIO())
    nurse = get_user_model().objects.get(username="nurse")
    nurse2 = get_user_model().objects.get(username="nurse2")
    datamanager = get_user_model().objects.get(username="datamanager")
    assert set(Patient.objects.visible_to(nurse).values_list("site__code", flat=True)) == {"DEMO"}
    assert set(Patient.objects.visible_to(nurse2).values_list("site__code", flat=True)) == {"DEMO2"}
    assert Patient.objects.visible_to(datamanager).count() == Patient.objects.count()
