"""Where records meet the clinical engine: model instances in, engine values out.

The engine (`advice/`) knows nothing of the ORM; this module turns records into its inputs and
stores its outputs on the records, so no view, task or command re-implements a rule.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from advice import dosing, pk, units
from advice.dosing import DoseSplit
from cases.models import Drug, Sample
from cases.regimens import last_change_on


def json_number(value: Decimal | int | float | None) -> int | float | None:
    """A Decimal as a JSON number: an int when whole (600), else a float (37.5)."""
    if value is None:
        return None
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)


def split_daily_dose(drug: Drug, daily_dose_mg: Decimal, administrations_per_day: int) -> DoseSplit:
    """The per-administration split of a prescribed dose (an interruption has no parts)."""
    if daily_dose_mg <= 0:
        return DoseSplit(
            daily_dose_mg=Decimal(0),
            administrations_per_day=administrations_per_day,
            parts_mg=(),
            warnings=(),
        )
    return dosing.split_daily_dose(daily_dose_mg, administrations_per_day, drug.facts())


def compute_sample(sample: Sample) -> None:
    """Fill the sample's computed fields from SPEC §3–§4 (unit, hours after dose, Ctrough)."""
    treatment = sample.treatment
    facts = treatment.drug.facts()
    if sample.concentration is None:
        sample.concentration_ng_ml = None
    else:
        sample.concentration_ng_ml = units.to_ng_ml(
            Decimal(sample.concentration), sample.unit, facts.molar_mass_g_mol
        )
    computed = (
        sample.status == Sample.Status.RESULTED
        and sample.administrations_per_day is not None
        and sample.daily_dose_mg
    )
    if not computed:
        sample.hours_after_dose = None
        sample.estimated_ctrough_ng_ml = None
        sample.method = ""
        sample.evaluable = None
        sample.not_evaluable_reasons = []
        sample.warnings = []
        return
    draw_day = timezone.localdate(sample.drawn_at)
    estimate = pk.estimate_ctrough(
        pk.SampleInput(
            drawn_at=timezone.localtime(sample.drawn_at),
            last_dose_at=timezone.localtime(sample.last_dose_at) if sample.last_dose_at else None,
            concentration_ng_ml=sample.concentration_ng_ml,
            below_lloq=sample.below_lloq,
        ),
        drug=facts,
        administrations_per_day=sample.administrations_per_day,
        treatment_start=treatment.start_date,
        last_dose_change=last_change_on(draw_day, treatment.dose_history()),
    )
    sample.hours_after_dose = estimate.hours_after_dose
    sample.estimated_ctrough_ng_ml = estimate.ctrough_ng_ml
    sample.method = estimate.method or ""
    sample.evaluable = estimate.evaluable
    sample.not_evaluable_reasons = list(estimate.reasons)
    sample.warnings = list(estimate.warnings)
