"""A dose the strengths cannot split as asked is refused with the reason, also for a drug whose
catalogue row gives no largest single dose (crizotinib): the check must not assume one."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from cases import services
from cases.models import Drug, Treatment

pytestmark = pytest.mark.django_db


def test_crizotinib_250_mg_twice_daily_is_refused_naming_the_strengths(staff, case_at):
    patient = case_at("a")["patient"]
    crizotinib = Drug.objects.get(name="crizotinib")
    assert crizotinib.facts().max_single_dose_mg is None
    with pytest.raises(ValidationError) as refused:
        services.treatment_create(
            actor=staff["nurse_a"],
            patient=patient,
            drug=crizotinib,
            start_date=datetime.date(2024, 3, 1),
            daily_dose_mg=Decimal(250),
            administrations_per_day=2,
        )
    message = refused.value.message_dict["administrations_per_day"][0]
    assert message == (
        "250 mg/day in 2 administration(s) cannot be made in equal parts from the strengths of "
        "crizotinib (200, 250 mg); give it in 1."
    )
    assert not Treatment.objects.filter(drug=crizotinib).exists()


def test_crizotinib_250_mg_once_daily_is_accepted(staff, case_at):
    patient = case_at("a")["patient"]
    treatment = services.treatment_create(
        actor=staff["nurse_a"],
        patient=patient,
        drug=Drug.objects.get(name="crizotinib"),
        start_date=datetime.date(2024, 3, 1),
        daily_dose_mg=Decimal(250),
        administrations_per_day=1,
    )
    assert treatment.regimens.get().split_mg == [250]
