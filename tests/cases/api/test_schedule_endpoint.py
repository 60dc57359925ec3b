"""GET /api/v1/treatments/{id}/schedule/ (docs/api.md; docs/sampling-schedule.md) from the
stored dose history."""

import datetime
from decimal import Decimal

import pytest

from cases import services
from tests.conftest import local_datetime

pytestmark = pytest.mark.django_db


def test_schedule_lists_due_dates_with_the_fulfilling_sample(api, case_at, staff):
    case = case_at("a")  # sorafenib from 2024-01-08, sample drawn 2024-02-05
    treatment = case["treatment"]
    services.dose_regimen_create(
        actor=staff["physician_a"],
        treatment=treatment,
        effective_from=datetime.date(2024, 2, 12),
        daily_dose_mg=Decimal(800),
        administrations_per_day=2,
        reason="tdm_advice",
    )
    late = services.sample_record(
        actor=staff["nurse_a"],
        treatment=treatment,
        drawn_at=local_datetime("2024-03-15 09:00"),
        last_dose_at=local_datetime("2024-03-14 21:00"),
        concentration=Decimal(3900),
    )
    response = api("nurse_a").get(
        f"/api/v1/treatments/{treatment.pk}/schedule/", {"until": "2024-07-01"}
    )
    assert response.status_code == 200
    assert response.json() == {
        "due": [
            {"date": "2024-02-05", "kind": "regular", "fulfilled_by": case["sample"].pk},
            {"date": "2024-03-11", "kind": "post_change", "fulfilled_by": late.pk},
            {"date": "2024-04-01", "kind": "regular", "fulfilled_by": None},
            {"date": "2024-06-24", "kind": "regular", "fulfilled_by": None},
        ]
    }


def test_interruption_and_stop_remove_due_dates(api, case_at, staff):
    treatment = case_at("a")["treatment"]
    physician = staff["physician_a"]
    services.dose_regimen_create(
        actor=physician,
        treatment=treatment,
        effective_from=datetime.date(2024, 3, 25),
        daily_dose_mg=Decimal(0),
        administrations_per_day=2,
        reason="interruption",
    )
    services.treatment_stop(
        actor=physician, treatment=treatment, stop_date=datetime.date(2024, 5, 1), reason="PD"
    )
    response = api("physician_a").get(
        f"/api/v1/treatments/{treatment.pk}/schedule/", {"until": "2024-12-31"}
    )
    assert [due["date"] for due in response.json()["due"]] == ["2024-02-05", "2024-03-04"]


def test_schedule_of_another_sites_treatment_is_not_found(api, case_at):
    treatment = case_at("a")["treatment"]
    assert api("nurse_b").get(f"/api/v1/treatments/{treatment.pk}/schedule/").status_code == 404


def test_bad_until_is_a_400_naming_the_field(api, case_at):
    treatment = case_at("a")["treatment"]
    response = api("nurse_a").get(
        f"/api/v1/treatments/{treatment.pk}/schedule/", {"until": "someday"}
    )
    assert response.status_code == 400
    assert "until" in response.json()
