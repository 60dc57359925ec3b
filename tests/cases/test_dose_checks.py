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


def test_the_dose_check_answers_for_every_catalogue_drug_without_assuming_optional_facts():
    """Every drug, every dose level and a dose between levels, 0 to 5 administrations: the
    check answers with field errors or none, never with an exception (an import runs it on
    whatever a file holds)."""
    for drug in Drug.objects.all():
        facts = drug.facts()
        doses = {*facts.dose_levels_mg, *(level + 1 for level in facts.dose_levels_mg), Decimal(0)}
        for dose in sorted(doses):
            for administrations in range(0, 6):
                errors: dict[str, list[str]] = {}
                services.check_dose(errors, drug, dose, administrations, "")
                assert set(errors) <= {"daily_dose_mg", "administrations_per_day"}, drug
                if administrations in (0, 5):
                    assert "administrations_per_day" in errors
