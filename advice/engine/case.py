"""The engine's input and output types for one sample."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from advice.engine import pk
from advice.engine.catalogue import DrugFacts


@dataclass(frozen=True)
class Regimen:
    """A prescribed daily dose and the number of administrations it is given in."""

    daily_dose_mg: Decimal
    administrations_per_day: int


@dataclass(frozen=True)
class AdverseEventInput:
    """One logged adverse event: a CTCAE v5.0 term, its grade and dates."""

    term: str
    grade: int
    onset: date
    resolved: date | None
    related: bool


@dataclass(frozen=True)
class AdviceCase:
    """Everything the engine needs to advise on one sample."""

    drug: DrugFacts
    phase: str
    regimen: Regimen
    treatment_start: date
    last_dose_change: date | None
    sample: pk.SampleInput
    adverse_events: tuple[AdverseEventInput, ...] = ()


@dataclass(frozen=True)
class AdviceResult:
    """The advice on one sample: the Ctrough estimate, the action and the proposed regimen.

    Concentrations in ng/mL rounded to 0.01, doses in mg. `predicted_ctrough_ng_ml` is None for
    `resample` and `no_target`; `target_ng_ml` is None for drugs without a Cmin target.
    """

    drug: str
    indication: str | None
    evaluable: bool
    reasons: tuple[str, ...]
    hours_after_dose: Decimal | None
    ctrough_ng_ml: Decimal | None
    method: str | None
    target_ng_ml: Decimal | None
    upper_threshold_ng_ml: Decimal | None
    action: str
    current_daily_dose_mg: Decimal
    current_administrations_per_day: int
    proposed_daily_dose_mg: Decimal
    proposed_administrations_per_day: int
    proposed_split_mg: tuple[Decimal, ...]
    predicted_ctrough_ng_ml: Decimal | None
    warnings: tuple[str, ...]
    checks: tuple[str, ...]
    provisional: bool
    worst_active_grade: int
    text: str
