"""What a drawn sample measures and what the engine makes of it (docs/synthetic-cohort.md §4).

Pure functions of the drug, the patient's exposure and a random stream. `compute` fills a
sample row's computed fields exactly as `cases.clinical.compute_sample` fills a Sample's: the
same engine call (`advice.engine.pk.estimate_ctrough`) on the same values, made without a query.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from advice.engine import pk, units
from advice.engine.case_input import json_number
from cases import clinical
from cases.clinical import NG_ML_STORED
from cases.models import Sample
from cases.regimens import DoseStep, last_change_on

from . import distributions as dist
from .catalogue import DrugPlan
from .writer import Row

CENT = Decimal("0.01")


def hours_after_dose(rng: random.Random, plan: DrugPlan, tau: float) -> float | None:
    """The time between the last dose and the draw (None: not recorded)."""
    earliest = float(plan.facts.earliest_extrapolation_h)
    kind = dist.TIMING.draw(rng)
    if kind == "unknown":
        return None
    low = max(earliest + 0.5, tau * 0.35)
    if kind == "mid_interval" and low < tau - 1.5:
        return rng.uniform(low, tau - 1.5)
    if kind == "too_early" and earliest > 1:
        return rng.uniform(0.5, earliest - 0.25)
    if kind == "missed_dose":
        return rng.uniform(1.6 * tau, 2.2 * tau)
    return min(max(rng.gauss(tau, dist.TROUGH_SD_H), tau - 1.5), tau + 2)


def concentration(
    rng: random.Random, plan: DrugPlan, exposure: float, dose: Decimal, tau: float, hours: float
) -> Decimal | None:
    """The measured concentration in ng/mL to 2 decimals for a patient whose Ctrough at the
    standard dose is `exposure`; None below the assay's LLOQ. Log-linear decay with the
    catalogue half-life after Tmax, a linear rise before it."""
    ratio = float(dose / plan.facts.standard_daily_dose_mg)
    if plan.facts.nonlinear_absorption:
        ratio **= dist.NONLINEAR_EXPONENT
    trough = exposure * ratio
    if hours >= plan.tmax_h:
        value = trough * 2 ** ((tau - hours) / plan.half_life_h)
    else:
        value = trough * 2 ** ((tau - plan.tmax_h) / plan.half_life_h) * hours / plan.tmax_h
    value *= rng.lognormvariate(0, dist.BETWEEN_SAMPLE_SD)
    if value < plan.lloq_ng_ml:
        return None
    return Decimal(repr(value)).quantize(CENT)


def set_result(rng: random.Random, plan: DrugPlan, sample: Row, value: Decimal | None) -> None:
    """The result arrives: the value (None: below the LLOQ), split into the analytes whose sum
    the target applies to (sunitinib and SU12662)."""
    sample.status = Sample.Status.RESULTED
    if value is None:
        sample.below_lloq = True
        return
    if plan.summed_analytes is not None:
        parent_name, metabolite_name = plan.summed_analytes
        share = Decimal(repr(rng.uniform(*dist.SUNITINIB_PARENT_SHARE)))
        parent = (value * share).quantize(CENT)
        sample.analytes = {
            parent_name: json_number(parent),
            metabolite_name: json_number(value - parent),
        }
    sample.concentration = value


def compute(sample: Row, plan: DrugPlan, start: datetime.date, history: Sequence[DoseStep]) -> None:
    """The computed fields, exactly as `cases.clinical.compute_sample` fills them."""
    facts = plan.facts
    value = sample.concentration
    sample.concentration_ng_ml = (
        None
        if value is None
        else units.to_ng_ml(value, units.NG_PER_ML, facts.molar_mass_g_mol).quantize(
            NG_ML_STORED, rounding=ROUND_HALF_UP
        )
    )
    sample.hours_after_dose = sample.estimated_ctrough_ng_ml = sample.evaluable = None
    sample.method, sample.not_evaluable_reasons, sample.warnings = "", [], []
    if sample.status != Sample.Status.RESULTED:
        return
    estimate = pk.estimate_ctrough(
        sample_input(sample),
        drug=facts,
        administrations_per_day=sample.administrations_per_day,
        treatment_start=start,
        last_dose_change=last_change_on(sample.drawn_at.date(), history),
    )
    clinical.store_estimate(sample, estimate)
    # Recording stores a value outside the plausible range only once it is confirmed.
    sample.confirmed_implausible = pk.IMPLAUSIBLE_VALUE in estimate.warnings


def sample_input(sample: Row) -> pk.SampleInput:
    """The engine's view of the sample. Its times are in the installation's zone
    (`Clock.zone`), as `timezone.localtime` gives them to `compute_sample`."""
    return pk.SampleInput(
        drawn_at=sample.drawn_at,
        last_dose_at=sample.last_dose_at,
        concentration_ng_ml=sample.concentration_ng_ml,
        below_lloq=sample.below_lloq,
    )
