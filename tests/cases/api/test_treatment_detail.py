"""The treatment detail of the API, read as plain values, answers byte for byte what
TreatmentSerializer writes for the same treatment (the list and the created treatment use it)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.renderers import JSONRenderer

from cases import services
from cases.api.treatments import TreatmentSerializer, _treatments_with_history
from cases.models import DoseRegimen, Drug
from tests import factories
from tests.advice import stories


def serialized(treatment) -> bytes:
    return JSONRenderer().render(
        TreatmentSerializer(_treatments_with_history().get(pk=treatment.pk)).data
    )


def detail(api, treatment, user: str = "nurse_a"):
    return api(user).get(f"/api/v1/treatments/{treatment.pk}/")


def regimen(staff, treatment, offset: int, daily: int, reason=DoseRegimen.Reason.TOXICITY):
    return factories.DoseRegimenFactory(
        actor=staff["physician_a"],
        treatment=treatment,
        effective_from=stories.day(offset),
        daily_dose_mg=Decimal(daily),
        reason=reason,
    )


def test_a_treatment_in_maintenance_with_a_dose_change_to_come(api, staff):
    treatment = stories.sorafenib_treatment(staff, daily=800, reduced_to=600)
    regimen(staff, treatment, 5, 400)
    response = detail(api, treatment)
    assert response.status_code == 200
    assert response.content == serialized(treatment)
    assert [r["daily_dose_mg"] for r in response.json()["regimens"]] == [800, 600, 400]


def test_withdrawn_and_entered_in_error_regimens_stay_listed_and_count_for_nothing(api, staff):
    treatment = stories.sorafenib_treatment(staff, daily=400)
    later = regimen(staff, treatment, 3, 600)
    services.dose_regimen_withdraw(actor=staff["physician_a"], regimen=later, reason="not yet")
    current = regimen(staff, treatment, -7, 800)
    services.dose_regimen_mark_in_error(
        actor=staff["physician_a"], regimen=current, reason="wrong patient"
    )
    body = detail(api, treatment).json()
    assert detail(api, treatment).content == serialized(treatment)
    assert body["current_daily_dose_mg"] == 400
    assert body["phase"] == "step_up"
    assert [r["status"] for r in body["regimens"]] == ["active", "entered_in_error", "withdrawn"]


def test_an_interrupted_then_stopped_treatment_and_a_drug_with_an_indication(api, staff):
    treatment = stories.sorafenib_treatment(staff)
    regimen(staff, treatment, -3, 0, DoseRegimen.Reason.INTERRUPTION)
    assert detail(api, treatment).json()["status"] == "interrupted"
    assert detail(api, treatment).content == serialized(treatment)
    services.treatment_stop(
        actor=staff["nurse_a"], treatment=treatment, stop_date=stories.day(-1), reason="toxicity"
    )
    assert detail(api, treatment).json()["status"] == "stopped"
    assert detail(api, treatment).content == serialized(treatment)
    variant = Drug.objects.exclude(indication="").order_by("name", "indication").first()
    other = factories.TreatmentFactory(
        actor=staff["nurse_a"],
        patient=treatment.patient,
        drug=variant,
        daily_dose_mg=variant.standard_daily_dose_mg,
        administrations_per_day=variant.administrations_per_day,
    )
    assert detail(api, other).json()["indication"] == variant.indication
    assert detail(api, other).content == serialized(other)


def test_a_dose_prescribed_by_an_advice_names_it(api, staff):
    from advice import services as advice_services

    treatment = stories.sorafenib_treatment(staff, daily=400)
    sample = stories.trough_sample(staff, treatment, "1000")
    advice = stories.release(staff, advice_services.advice_create_for_sample(sample_id=sample.pk))
    stories.accept(staff, advice, stories.day(1))
    body = detail(api, treatment, "pharmacist_a").json()
    assert body["regimens"][-1]["advice"] == advice.pk
    assert detail(api, treatment, "pharmacist_a").content == serialized(treatment)


@pytest.mark.parametrize("address", ["999999", "abc"])
def test_an_unknown_or_malformed_id_is_not_found(api, staff, address):
    stories.sorafenib_treatment(staff)
    assert api("nurse_a").get(f"/api/v1/treatments/{address}/").status_code == 404


def test_another_sites_treatment_is_not_found_and_a_filter_still_narrows(api, staff, case_at):
    treatment = case_at("a")["treatment"]
    assert detail(api, treatment, "nurse_b").status_code == 404
    address = f"/api/v1/treatments/{treatment.pk}/"
    assert api("nurse_a").get(address, {"drug": "imatinib"}).status_code == 404
    assert api("nurse_a").get(address, {"drug": "sorafenib"}).status_code == 200
    assert api("datamanager_a").get(address).content == serialized(treatment)
