"""Where records meet the clinical engine: model instances in, engine values out.

The engine (`advice.engine`) knows nothing of the ORM; this module computes what a sample record
stores (its Ctrough estimate and evaluability), splits doses and gives a treatment's due dates,
so no view, task or command re-implements a rule. The inputs of an advice are
`advice.inputs`.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import prefetch_related_objects
from django.utils import timezone

from advice.engine import dosing, pk, units
from advice.engine.catalogue import DrugFacts
from advice.engine.dosing import DoseSplit
from cases import schedule
from cases.models import Drug, Sample, Treatment
from cases.regimens import DoseStep, last_change_on

# Concentrations are stored to 4 decimals of ng/mL (the Sample columns).
NG_ML_STORED = Decimal("0.0001")


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
    """Fill the sample's computed fields (unit, hours after dose, Ctrough) by
    docs/clinical-rules.md §1–§2."""
    treatment = sample.treatment
    compute_sample_values(
        sample,
        facts=treatment.drug.facts(),
        treatment_start=treatment.start_date,
        history=treatment.dose_history(),
    )


def compute_sample_values(
    sample: Any,
    *,
    facts: DrugFacts,
    treatment_start: datetime.date,
    history: Sequence[DoseStep],
) -> None:
    """`compute_sample` from the treatment's values: for a Sample, or any row with its
    attributes (a cohort being written set-based), without a query."""
    if sample.concentration is None:
        sample.concentration_ng_ml = None
    else:
        # Stored to 4 decimals (0.1 pg/mL), far below any assay's precision; an nmol/L result
        # converts to more digits than that.
        sample.concentration_ng_ml = units.to_ng_ml(
            Decimal(sample.concentration), sample.unit, facts.molar_mass_g_mol
        ).quantize(NG_ML_STORED, rounding=ROUND_HALF_UP)
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
        treatment_start=treatment_start,
        last_dose_change=last_change_on(draw_day, history),
    )
    store_estimate(sample, estimate)


def store_estimate(sample: Any, estimate: pk.CtroughEstimate) -> None:
    """Copy the engine's estimate to the sample's computed fields (a Sample, or any row with
    the same attributes, as the synthetic cohort writes)."""
    sample.hours_after_dose = estimate.hours_after_dose
    sample.estimated_ctrough_ng_ml = estimate.ctrough_ng_ml
    sample.method = estimate.method or ""
    sample.evaluable = estimate.evaluable
    sample.not_evaluable_reasons = list(estimate.reasons)
    sample.warnings = list(estimate.warnings)


SCHEDULE_HORIZON_DAYS = 365


def due_dates(treatment: Treatment, *, until: datetime.date) -> tuple[schedule.DueDate, ...]:
    """The treatment's sampling due dates (docs/sampling-schedule.md) up to `until`, from its
    dose history and its extra samples (uses prefetched `regimens` and `extra_due_dates`, so a
    page or task over many treatments asks nothing per treatment).

    A treatment without a live regimen has none: stopped on the day it started, its start
    regimen was withdrawn with the stop, and nothing is due from the stop date on anyway."""
    history = treatment.dose_history()
    if not history:
        return ()
    return schedule.compute_due_dates(
        schedule.request_from_doses(
            [(step.effective_from, step.daily_dose_mg) for step in history],
            stop=treatment.stop_date,
            until=max(until, treatment.start_date),
            extra=[extra.date for extra in treatment.extra_due_dates.all()],
        )
    )


def treatment_schedule(
    treatment: Treatment, *, until: datetime.date | None = None
) -> list[dict[str, object]]:
    """The treatment's due dates (docs/sampling-schedule.md) up to `until` (default a year
    ahead), each with the id of the sample that fulfils it, if any, and for an extra sample the
    reason it was asked for."""
    until = until or timezone.localdate() + datetime.timedelta(days=SCHEDULE_HORIZON_DAYS)
    # Read once for the due dates and their reasons (nothing, when the caller prefetched them).
    prefetch_related_objects([treatment], "extra_due_dates")
    due = due_dates(treatment, until=until)
    drawn = treatment.samples.filter(
        status__in=[Sample.Status.DRAWN, Sample.Status.RESULTED]
    ).order_by("drawn_at", "pk")
    fulfilled_by = schedule.match_samples(
        due, [(sample.pk, timezone.localdate(sample.drawn_at)) for sample in drawn]
    )
    reasons = {extra.date: extra.reason for extra in treatment.extra_due_dates.all()}
    return [
        {
            "date": entry.date,
            "kind": entry.kind,
            "fulfilled_by": fulfilled_by.get(entry.date),
            "reason": reasons[entry.date] if entry.kind == "extra" else "",
        }
        for entry in due
    ]
