"""Dates years away are typing errors: a treatment start or a dose more than a year ahead, and a
decision taking effect more than 90 days ahead, are refused with the field named (and a date far
in the future no longer reaches the pages that would fail on it)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from advice import services as advice_services
from advice.models import Advice
from cases import services
from cases.models import DoseRegimen, Treatment
from tests.factories import DEMO_PASSWORD

pytestmark = pytest.mark.django_db

YEAR = datetime.timedelta(days=365)


def _start(staff, case, start_date):
    return services.treatment_create(
        actor=staff["nurse_a"],
        patient=case["patient"],
        drug=case["treatment"].drug,
        start_date=start_date,
        daily_dose_mg=Decimal(400),
        administrations_per_day=2,
    )


def test_a_treatment_starts_at_most_a_year_ahead(staff, case_at):
    case = case_at("a")
    today = timezone.localdate()
    with pytest.raises(ValidationError) as refused:
        _start(staff, case, today + YEAR + datetime.timedelta(days=1))
    assert "start_date" in refused.value.message_dict
    assert Treatment.objects.count() == 1


def test_a_dose_is_planned_at_most_a_year_ahead(staff, case_at):
    treatment = case_at("a")["treatment"]
    for far in (
        timezone.localdate() + YEAR + datetime.timedelta(days=1),
        datetime.date(9999, 12, 31),
    ):
        with pytest.raises(ValidationError) as refused:
            services.dose_regimen_create(
                actor=staff["nurse_a"],
                treatment=treatment,
                effective_from=far,
                daily_dose_mg=Decimal(800),
                administrations_per_day=2,
                reason=DoseRegimen.Reason.STEP_UP,
            )
        assert "a year ahead" in refused.value.message_dict["effective_from"][0]
    assert treatment.regimens.count() == 1


def test_the_api_names_the_field_of_a_regimen_in_year_9999(api, case_at):
    treatment = case_at("a")["treatment"]
    answer = api("nurse_a").post(
        "/api/v1/dose-regimens/",
        {
            "treatment": treatment.pk,
            "effective_from": "9999-12-31",
            "daily_dose_mg": 800,
            "administrations_per_day": 2,
            "reason": "step_up",
        },
        format="json",
    )
    assert answer.status_code == 400, answer.content
    assert "effective_from" in answer.json()


def test_a_decision_takes_effect_within_90_days(staff, case_at, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        case = case_at("a", adverse_event=False)
    advice = Advice.objects.get(sample=case["sample"])
    advice_services.advice_release(actor=staff["pharmacist_a"], advice=advice)
    today = timezone.localdate()
    with pytest.raises(ValidationError) as refused:
        advice_services.advice_accept(
            actor=staff["physician_a"],
            advice=advice,
            password=DEMO_PASSWORD,
            checks_confirmed=["adherence", "drug_interactions"],
            effective_date=today + datetime.timedelta(days=91),
            today=today,
        )
    assert "effective_date" in refused.value.message_dict
    advice.refresh_from_db()
    assert advice.state == Advice.State.RELEASED
    accepted = advice_services.advice_accept(
        actor=staff["physician_a"],
        advice=advice,
        password=DEMO_PASSWORD,
        checks_confirmed=["adherence", "drug_interactions"],
        effective_date=today + datetime.timedelta(days=90),
        today=today,
    )
    assert accepted.state == Advice.State.ACCEPTED
