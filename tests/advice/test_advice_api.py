"""The advice resource (docs/api.md, docs/workflow.md) replaying the two dose-safety stories
through the API, with the edited and computed values side by side and the correction links."""

from __future__ import annotations

from decimal import Decimal

import pytest

from advice.models import Advice
from cases.models import DoseRegimen
from tests.advice import stories
from tests.advice.stories import day, dose_on
from tests.conftest import DEMO_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def post(api, user: str, url: str, body: dict):
    return api(user).post(url, body, format="json")


def sign(api, advice_id: int, effective_date, checks=()):
    return post(
        api,
        "physician_a",
        f"/api/v1/advice/{advice_id}/accept/",
        {
            "password": DEMO_PASSWORD,
            "effective_date": effective_date.isoformat(),
            "checks_confirmed": list(checks),
        },
    )


def test_the_edit_story_through_the_api(api, staff, on_commit):
    treatment = stories.sorafenib_treatment(staff, daily=800, reduced_to=400)
    with on_commit():
        sample = stories.trough_sample(staff, treatment, "4000")
    advice_id = Advice.objects.get(sample=sample).pk

    released = post(
        api,
        "pharmacist_a",
        f"/api/v1/advice/{advice_id}/release/",
        {"proposed_daily_dose_mg": "600"},
    )

    assert released.status_code == 200
    body = released.json()
    assert (body["action"], body["proposed_daily_dose_mg"], body["proposed_split_mg"]) == (
        "increase",
        600,
        [400, 200],
    )
    assert body["checks"] == ["adherence", "drug_interactions"]
    assert body["predicted_ctrough_ng_ml"] == 6000
    assert body["edited"] is True
    assert "Increase sorafenib from 400 mg/day to 600 mg/day" in body["text"]
    # The engine's original, beside the edited top-level values.
    assert (body["computed"]["action"], body["computed"]["proposed_daily_dose_mg"]) == (
        "continue",
        400,
    )
    assert body["computed"]["checks"] == []

    unchecked = sign(api, advice_id, day(1))
    assert unchecked.status_code == 400
    assert list(unchecked.json()) == ["checks_confirmed"]
    accepted = sign(api, advice_id, day(1), checks=body["checks"])

    assert accepted.status_code == 200
    assert accepted.json()["effective_date"] == day(1).isoformat()
    regimen = DoseRegimen.objects.get(pk=accepted.json()["dose_regimen"])
    assert (regimen.daily_dose_mg, regimen.effective_from) == (Decimal(600), day(1))
    assert regimen.reason == DoseRegimen.Reason.TDM_ADVICE


def test_an_edit_the_engine_refuses_names_the_field(api, staff, on_commit):
    treatment = stories.sorafenib_treatment(staff, daily=800, reduced_to=400)
    with on_commit():
        sample = stories.trough_sample(staff, treatment, "4000")
    advice_id = Advice.objects.get(sample=sample).pk
    url = f"/api/v1/advice/{advice_id}/release/"

    above = post(api, "pharmacist_a", url, {"proposed_daily_dose_mg": "1800"})
    once = post(
        api,
        "pharmacist_a",
        url,
        {"proposed_daily_dose_mg": "1600", "proposed_administrations_per_day": 1},
    )

    assert above.status_code == once.status_code == 400
    assert "above the highest dose" in above.json()["proposed_daily_dose_mg"][0]
    assert "largest single dose" in once.json()["proposed_administrations_per_day"][0]


def test_the_interruption_story_through_the_api(api, staff, on_commit):
    treatment = stories.sorafenib_treatment(staff, daily=800)
    with on_commit():
        sample = stories.trough_sample(staff, treatment, "3000")
    escalation = Advice.objects.get(sample=sample)
    post(api, "pharmacist_a", f"/api/v1/advice/{escalation.pk}/release/", {})
    future = sign(api, escalation.pk, day(2), checks=escalation.checks).json()["dose_regimen"]

    with on_commit():
        created = post(
            api,
            "nurse_a",
            "/api/v1/adverse-events/",
            {
                "treatment": treatment.pk,
                "term": "Palmar-plantar erythrodysesthesia syndrome",
                "grade": 3,
                "onset": stories.today().isoformat(),
            },
        )
    assert created.status_code == 201
    listed = api("physician_a").get(
        "/api/v1/advice/", {"treatment": treatment.pk, "kind": "toxicity"}
    )
    (toxicity,) = listed.json()["results"]
    assert toxicity["action"] == "interrupt_then_reduce"
    post(api, "pharmacist_a", f"/api/v1/advice/{toxicity['id']}/release/", {})
    accepted = sign(api, toxicity["id"], day(1))

    assert accepted.status_code == 200
    regimens = {
        r["id"]: r
        for r in api("physician_a")
        .get("/api/v1/dose-regimens/", {"treatment": treatment.pk})
        .json()["results"]
    }
    assert regimens[future]["status"] == "withdrawn"
    assert regimens[future]["status_reason"] == (
        f"superseded by advice {toxicity['id']} accepted on {stories.today().isoformat()}"
    )
    interruption = regimens[accepted.json()["dose_regimen"]]
    assert (interruption["daily_dose_mg"], interruption["effective_from"]) == (
        0,
        day(1).isoformat(),
    )
    assert [dose_on(treatment, day(n)) for n in range(1, 91)] == [Decimal(0)] * 90


def test_an_effective_date_before_the_sample_or_far_ahead_is_refused(api, staff, on_commit):
    treatment = stories.sorafenib_treatment(staff, daily=800)
    with on_commit():
        sample = stories.trough_sample(staff, treatment, "3000")
    advice = Advice.objects.get(sample=sample)
    post(api, "pharmacist_a", f"/api/v1/advice/{advice.pk}/release/", {})

    for effective in (day(-2), day(91)):
        refused = sign(api, advice.pk, effective, checks=advice.checks)
        assert refused.status_code == 400
        assert list(refused.json()) == ["effective_date"]


def test_advice_after_a_correction_names_the_signed_advice_it_follows(api, staff, on_commit):
    treatment = stories.sorafenib_treatment(staff, daily=800)
    with on_commit():
        sample = stories.trough_sample(staff, treatment, "4000")
    signed = Advice.objects.get(sample=sample)
    post(api, "pharmacist_a", f"/api/v1/advice/{signed.pk}/release/", {})
    sign(api, signed.pk, day(1))

    with on_commit():
        stories.correct(staff, sample, concentration=Decimal(3000))

    listed = api("nurse_a").get("/api/v1/advice/", {"treatment": treatment.pk}).json()["results"]
    by_id = {a["id"]: a for a in listed}
    (new_id,) = set(by_id) - {signed.pk}
    assert (by_id[signed.pk]["follows"], by_id[signed.pk]["after_correction"]) == (None, False)
    assert (by_id[new_id]["follows"], by_id[new_id]["after_correction"]) == (signed.pk, True)
    assert (by_id[new_id]["state"], by_id[new_id]["action"]) == ("draft", "increase")
    assert by_id[signed.pk]["state"] == "accepted"
    one = api("nurse_a").get(f"/api/v1/advice/{new_id}/").json()
    assert (one["follows"], one["after_correction"]) == (signed.pk, True)


def test_advice_on_an_adverse_event_is_not_after_a_correction(api, staff, on_commit):
    treatment = stories.sorafenib_treatment(staff, daily=800)
    with on_commit():
        event = stories.hand_foot_syndrome(staff, treatment, grade=1)
    advice = Advice.objects.get(adverse_event=event)

    body = api("nurse_a").get(f"/api/v1/advice/{advice.pk}/").json()

    assert (body["follows"], body["after_correction"], body["withdrawal_reason"]) == (
        None,
        False,
        "",
    )
