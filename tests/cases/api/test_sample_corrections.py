"""`POST /api/v1/samples/{id}/correct/` (docs/api.md, "Corrections"): a nurse or pharmacist of
the site corrects; 400 names the field, 403 for other roles, 404 for other sites, 409 for a
cancelled sample or a duplicate."""

from __future__ import annotations

import pytest

from advice.engine.pk import IMPLAUSIBLE_VALUE
from cases import services
from cases.models import AuditEvent, Sample
from tests.factories import SampleFactory, local_datetime

pytestmark = pytest.mark.django_db

REASON = "time of last dose entered from the wrong day"


@pytest.fixture
def sample(case_at):
    """Sorafenib, drawn 2024-02-05 09:00 (+01:00), last dose 12 h before, 2870 ng/mL."""
    return case_at("a", adverse_event=False)["sample"]


def url(sample) -> str:
    return f"/api/v1/samples/{sample.pk}/correct/"


@pytest.mark.parametrize("username", ["nurse_a", "pharmacist_a"])
def test_a_nurse_or_pharmacist_corrects(api, sample, username):
    answer = api(username).post(
        url(sample),
        {"last_dose_at": "2024-02-04T23:00:00+01:00", "reason": REASON},
        format="json",
    )

    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert body["id"] == sample.pk
    assert body["last_dose_at"] == "2024-02-04T23:00:00+01:00"
    assert body["hours_after_dose"] == 10
    assert body["method"] == "extrapolated"
    assert body["concentration"] == 2870
    event = AuditEvent.objects.filter(model="cases.sample", object_id=str(sample.pk)).first()
    assert event.detail == f"corrected: {REASON}"
    assert event.actor_username == username


def test_unknown_time_of_last_dose_is_sent_as_null(api, sample):
    answer = api("nurse_a").post(
        url(sample), {"last_dose_at": None, "reason": REASON}, format="json"
    )

    assert answer.status_code == 200
    assert answer.json()["last_dose_at"] is None
    assert answer.json()["reasons"] == ["last_dose_missing"]


def test_a_confirmed_implausible_value_is_stored_with_the_warning(api, sample):
    answer = api("nurse_a").post(
        url(sample),
        {"concentration": 287000, "reason": "decimal point lost", "confirm_implausible": True},
        format="json",
    )

    assert answer.status_code == 200
    assert answer.json()["confirmed_implausible"] is True
    assert answer.json()["warnings"] == [IMPLAUSIBLE_VALUE]


@pytest.mark.parametrize("username", ["physician_a", "datamanager_a"])
def test_a_physician_or_data_manager_gets_403(api, sample, username):
    answer = api(username).post(
        url(sample), {"concentration": 3000, "reason": REASON}, format="json"
    )

    assert answer.status_code == 403
    assert Sample.objects.get(pk=sample.pk).concentration == 2870


@pytest.mark.parametrize("username", ["nurse_b", "pharmacist_b", "physician_b"])
def test_another_sites_user_gets_404(api, sample, username):
    answer = api(username).post(
        url(sample), {"concentration": 3000, "reason": REASON}, format="json"
    )

    assert answer.status_code == 404


def test_a_cancelled_sample_answers_409(api, staff, sample):
    services.sample_cancel(actor=staff["nurse_a"], sample=sample, reason="wrong patient")

    answer = api("nurse_a").post(
        url(sample), {"concentration": 3000, "reason": REASON}, format="json"
    )

    assert answer.status_code == 409
    assert "cancelled" in answer.json()["detail"]


def test_a_duplicate_answers_409_naming_the_other_sample(api, staff, sample):
    other = SampleFactory(
        actor=staff["nurse_a"],
        treatment=sample.treatment,
        drawn_at=local_datetime("2024-03-04 09:00"),
    )

    answer = api("nurse_a").post(
        url(sample),
        {
            "drawn_at": "2024-03-04T09:29:00+01:00",
            "last_dose_at": "2024-03-03T21:29:00+01:00",
            "reason": REASON,
        },
        format="json",
    )

    assert answer.status_code == 409
    assert answer.json()["conflicting_sample"] == other.pk
    assert Sample.objects.get(pk=sample.pk).drawn_at == local_datetime("2024-02-05 09:00")


def test_reading_the_correction_route_is_not_allowed(api, sample):
    assert api("nurse_a").get(url(sample)).status_code == 405
