"""POST and GET /api/v1/treatments/{id}/extra-samples/ (docs/sampling-schedule.md §12): an
extra due date of kind `extra` in the schedule; refusals are 400 naming the field, 403 for a
role that may not, 404 for another site's treatment."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from cases.models import ExtraDueDate, Treatment
from tests.factories import PatientFactory, TreatmentFactory

pytestmark = pytest.mark.django_db


def days(n: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=n)


@pytest.fixture
def treatment(staff) -> Treatment:
    """Sorafenib from 20 days ago: regular dates in 8, 36 and 64 days."""
    patient = PatientFactory(actor=staff["nurse_a"])
    return TreatmentFactory(actor=staff["nurse_a"], patient=patient, start_date=days(-20))


def url(treatment: Treatment) -> str:
    return f"/api/v1/treatments/{treatment.pk}/extra-samples/"


@pytest.mark.parametrize("who", ["nurse_a", "pharmacist_a", "physician_a"])
def test_post_asks_for_an_extra_sample_and_the_schedule_shows_it(api, treatment, who):
    response = api(who).post(
        url(treatment), {"date": days(14).isoformat(), "reason": "re-sample"}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    extra = ExtraDueDate.objects.get()
    assert body == {
        "id": extra.pk,
        "treatment": treatment.pk,
        "date": days(14).isoformat(),
        "reason": "re-sample",
        "created_by": who,
        "created_at": body["created_at"],
    }
    schedule = api("nurse_a").get(
        f"/api/v1/treatments/{treatment.pk}/schedule/", {"until": days(40).isoformat()}
    )
    assert schedule.json() == {
        "due": [
            {"date": days(8).isoformat(), "kind": "regular", "fulfilled_by": None},
            {"date": days(14).isoformat(), "kind": "extra", "fulfilled_by": None},
            {"date": days(36).isoformat(), "kind": "regular", "fulfilled_by": None},
        ]
    }


def test_get_lists_the_extra_samples_in_date_order(api, treatment):
    client = api("nurse_a")
    for offset in (30, 14):
        client.post(
            url(treatment), {"date": days(offset).isoformat(), "reason": f"in {offset} days"}
        )

    response = api("physician_a").get(url(treatment))

    assert response.status_code == 200
    assert [(row["date"], row["reason"]) for row in response.json()] == [
        (days(14).isoformat(), "in 14 days"),
        (days(30).isoformat(), "in 30 days"),
    ]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"reason": "re-sample"}, "date"),
        ({"date": "someday", "reason": "re-sample"}, "date"),
        ({"date": "9999-12-31", "reason": "re-sample"}, "date"),
        ({"date": "2000-01-01", "reason": "re-sample"}, "date"),
        ({"date": "DAY(8)", "reason": "re-sample"}, "date"),
        ({"date": "DAY(14)"}, "reason"),
        ({"date": "DAY(14)", "reason": ""}, "reason"),
        ({"date": "DAY(14)", "reason": "x" * 201}, "reason"),
        ({"date": ["DAY(14)"], "reason": "re-sample"}, "date"),
    ],
)
def test_a_refusal_is_a_400_naming_the_field(api, treatment, data, field):
    def resolve(value):
        if isinstance(value, list):
            return [resolve(item) for item in value]
        if value.startswith("DAY("):
            return days(int(value[4:-1])).isoformat()
        return value

    response = api("nurse_a").post(
        url(treatment), {key: resolve(value) for key, value in data.items()}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert not ExtraDueDate.objects.exists()


def test_a_second_extra_sample_on_the_same_day_is_a_400_on_date(api, treatment):
    data = {"date": days(14).isoformat(), "reason": "re-sample"}
    assert api("nurse_a").post(url(treatment), data, format="json").status_code == 201

    response = api("pharmacist_a").post(url(treatment), data, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "date": [f"An extra sample is already asked for on {days(14).isoformat()}."]
    }


def test_the_data_manager_may_neither_ask_nor_list(api, treatment):
    client = api("datamanager_a")
    data = {"date": days(14).isoformat(), "reason": "re-sample"}
    assert client.post(url(treatment), data, format="json").status_code == 403
    assert client.get(url(treatment)).status_code == 403
    assert not ExtraDueDate.objects.exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_another_sites_treatment_is_not_found(api, treatment, method):
    data = {"date": days(14).isoformat(), "reason": "re-sample"}
    client = api("nurse_b")
    response = getattr(client, method)(url(treatment), data if method == "post" else None)
    assert response.status_code == 404
    assert not ExtraDueDate.objects.exists()
