"""Every address that names a record, page or API, tried by someone who must not reach it.

The addresses come from the URL resolver, the API router's included, so a route added to any
app is in this battery the day it is added: `test_every_route_with_a_record_id_is_tried` fails
until the kind of record its id names is listed in RECORD_KIND. Each route is tried with GET
and POST by the record's outsiders (another site's clinical users; for a user's own records,
other users): the answer must be the one a never-used id gets, never a success and never a
server error, and nothing may be written (docs/access.md).
"""

from __future__ import annotations

from typing import Any

import pytest

from advice import services as advice_services
from advice.models import Advice
from cases.models import AdverseEvent, AuditEvent, DoseRegimen, Patient, Sample, Treatment
from notifications.models import Notification
from study import jobs
from study.models import Export
from tests.tdm_site.routes import address, resource, routes

pytestmark = pytest.mark.django_db

NEVER_USED_ID = 987_654
# The Django admin is for superusers only; a clinical user never reaches its object pages.
NOT_RECORD_ROUTES = ("admin/",)

# The first segment of an address → the kind of record its id names.
RECORD_KIND = {
    "patients": "patient",
    "treatments": "treatment",
    "dose-regimens": "regimen",
    "regimens": "regimen",
    "samples": "sample",
    "adverse-events": "event",
    "advice": "advice",
    "notifications": "notification",
    "exports": "export",
}
# The drug catalogue is the same for every site and readable by every signed-in user.
SHARED_KINDS = {"drugs"}

OUTSIDERS = {
    "patient": ["nurse_b", "pharmacist_b", "physician_b"],
    "treatment": ["nurse_b", "pharmacist_b", "physician_b"],
    "regimen": ["nurse_b", "pharmacist_b", "physician_b"],
    "sample": ["nurse_b", "pharmacist_b", "physician_b"],
    "event": ["nurse_b", "pharmacist_b", "physician_b"],
    "advice": ["nurse_b", "pharmacist_b", "physician_b"],
    # A notification is its recipient's (physician_a) alone, even within the site.
    "notification": ["physician_b", "nurse_a"],
    # An export is its data manager's (datamanager_a) and the admins'.
    "export": ["datamanager_b", "nurse_b", "physician_b"],
}


def routes_with_a_record_id() -> list[str]:
    found = {
        pattern
        for pattern, _view in routes()
        if ("<int:pk>" in pattern or "<pk>" in pattern or "(?P<pk>" in pattern)
        and not pattern.startswith(NOT_RECORD_ROUTES)
    }
    return sorted(found)


ROUTES = routes_with_a_record_id()


def test_the_battery_finds_pages_api_and_router_suffix_routes():
    addresses = {address(route, 7) for route in ROUTES}
    assert {
        "/patients/7/",
        "/advice/7/accept/",
        "/advice/7/report.pdf",
        "/api/v1/samples/7/",
        "/api/v1/samples/7.json",
        "/api/v1/advice/7/release/",
        "/api/v1/advice/7/report.pdf",
        "/api/v1/exports/7/download/",
        "/notifications/7/open/",
    } <= addresses


def test_every_route_with_a_record_id_is_tried():
    unknown = sorted(
        route for route in ROUTES if resource(route) not in {*RECORD_KIND, *SHARED_KINDS}
    )
    assert unknown == [], "add the kind of record these routes name to RECORD_KIND"


@pytest.fixture
def records_of_site_a(case_at, staff) -> dict[str, Any]:
    case = case_at("a")
    case_at("b")
    advice = advice_services.advice_create_for_sample(sample_id=case["sample"].pk)
    notification = Notification.objects.create(
        recipient=staff["physician_a"],
        kind=Notification.Kind.ADVICE_RELEASED,
        subject="Advice to sign",
        body="Advice to sign",
        advice=advice,
    )
    export = jobs.export_request(actor=staff["datamanager_a"], format="csv")
    return {
        "patient": case["patient"],
        "treatment": case["treatment"],
        "regimen": case["treatment"].regimens.get(),
        "sample": case["sample"],
        "event": case["event"],
        "advice": advice,
        "notification": notification,
        "export": export,
    }


def _state() -> dict[str, object]:
    """What an outsider's request must leave as it was."""
    counts = {
        model.__name__: model.objects.count()
        for model in (Patient, Treatment, DoseRegimen, Sample, AdverseEvent, Export)
    }
    counts["writes audited"] = AuditEvent.objects.exclude(
        action__in=[AuditEvent.Action.LOGIN, AuditEvent.Action.LOGOUT]
    ).count()
    counts["unread"] = Notification.objects.filter(read_at__isnull=True).count()
    # A release or a signature would change an advice's state.
    counts["advice states"] = sorted(Advice.objects.values_list("state", flat=True))
    return counts


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("route", [r for r in ROUTES if resource(r) in RECORD_KIND])
def test_an_outsider_gets_what_a_never_used_id_gets(
    client, staff, records_of_site_a, route, method
):
    kind = RECORD_KIND[resource(route)]
    record = records_of_site_a[kind]
    for username in OUTSIDERS[kind]:
        client.force_login(staff[username])
        before = _state()
        answer = getattr(client, method)(address(route, record.pk))
        never_used = getattr(client, method)(address(route, NEVER_USED_ID))
        assert answer.status_code == never_used.status_code, (username, route, method)
        assert answer.status_code in (403, 404, 405), (username, route, method)
        assert _state() == before, (username, route, method)
