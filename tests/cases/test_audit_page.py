"""The audit-trail viewer: data managers and admins only, every site, identity never shown."""

from __future__ import annotations

import pytest
from django.utils import timezone

from cases.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail(case_at):
    return {"a": case_at("a"), "b": case_at("b")}


@pytest.mark.parametrize(
    "name", ["nurse_a", "pharmacist_a", "physician_a", "nurse_b", "physician_b"]
)
def test_clinical_users_may_not_read_the_trail(client, staff, trail, name):
    client.force_login(staff[name])
    assert client.get("/audit/").status_code == 403


@pytest.mark.parametrize("name", ["datamanager_a", "datamanager_b", "admin"])
def test_data_managers_read_every_sites_trail_pseudonymised(client, staff, trail, name):
    client.force_login(staff[name])

    html = client.get("/audit/").content.decode()

    assert "TDM-A001" in html
    assert "TDM-B001" in html
    for identity in ("Patient A", "Patient B", "MRN-A-1", "MRN-B-1"):
        assert identity not in html


def test_filters_narrow_the_trail(client, staff, trail):
    client.force_login(staff["datamanager_a"])
    today = timezone.localdate().isoformat()

    samples = client.get("/audit/", {"model": "cases.sample"})
    by_nurse_b = client.get("/audit/", {"user": "nurse_b", "action": "create"})
    today_only = client.get("/audit/", {"date_from": today, "date_to": today})
    none = client.get("/audit/", {"date_to": "2000-01-01"})

    created_by_b = AuditEvent.objects.filter(actor_username="nurse_b", action="create").count()
    assert (
        samples.context["page"].paginator.count
        == AuditEvent.objects.filter(model="cases.sample").count()
    )
    assert by_nurse_b.context["page"].paginator.count == created_by_b
    assert today_only.context["page"].paginator.count == AuditEvent.objects.count()
    assert none.context["page"].paginator.count == 0


@pytest.mark.parametrize(
    "query",
    [
        {"date_from": "yesterday"},
        {"action": "explode"},
        {"model": "auth.secret"},
        {"page": "abc"},
        {"page": "99999"},
        {"date_from": "99999-01-01"},
    ],
)
def test_bad_filters_answer_with_the_message_not_500(client, staff, trail, query):
    client.force_login(staff["datamanager_a"])
    response = client.get("/audit/", query)
    assert response.status_code == 200


def test_invalid_filter_is_shown_next_to_it_and_the_others_still_apply(client, staff, trail):
    client.force_login(staff["datamanager_a"])

    response = client.get("/audit/", {"date_from": "someday", "user": "nurse_b"})

    html = response.content.decode()
    assert 'id="id_date_from-error"' in html
    assert (
        response.context["page"].paginator.count
        == AuditEvent.objects.filter(actor_username__icontains="nurse_b").count()
    )


def test_changes_show_before_and_after(client, staff, trail, django_assert_max_num_queries):
    client.force_login(staff["datamanager_a"])
    with django_assert_max_num_queries(12):
        html = client.get("/audit/", {"model": "cases.sample"}).content.decode()
    assert "estimated_ctrough_ng_ml" in html
