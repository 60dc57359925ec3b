"""Estimating Ctrough from one sample (docs/clinical-rules.md §2; Guchelaar et al., Biomed
Pharmacother 2022, §2.2).

`t` is the time between the last dose and the draw, `tau` = 24 h / administrations per day.
A sample is evaluable unless one of the reason codes below applies; an evaluable sample gives

    Ctrough = C x 0.5 ^ ((tau - t) / t½)

which scales a concentration drawn at `t` to the end of the dosing interval along the
terminal half-life (log-linear elimination), for `t` before or after `tau`. Time rules are
judged on the exact `t`; the estimate is computed in floating point and rounded once to
0.01 ng/mL (half up), and that rounded value is what the advice rules compare. A measured value
outside the drug's plausible range (`plausibility`) carries warning `implausible_value`, whether
the sample is evaluable or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from advice.engine.catalogue import DrugFacts
from advice.engine.plausibility import implausible_concentration

# Reason codes in the order `reasons` lists them (the order of docs/clinical-rules.md §2.1).
LAST_DOSE_MISSING = "last_dose_missing"
LAST_DOSE_AFTER_DRAW = "last_dose_after_draw"
BEFORE_MIN_TIME = "before_min_time"
MISSED_DOSE = "missed_dose"
EXTRAPOLATION_NOT_VALID = "extrapolation_not_valid"
OFF_CYCLE = "off_cycle"
BELOW_LLOQ = "below_lloq"
REASON_ORDER: tuple[str, ...] = (
    LAST_DOSE_MISSING,
    LAST_DOSE_AFTER_DRAW,
    BEFORE_MIN_TIME,
    MISSED_DOSE,
    EXTRAPOLATION_NOT_VALID,
    OFF_CYCLE,
    BELOW_LLOQ,
)

NOT_STEADY_STATE = "not_steady_state"
# The measured value lies outside the drug's plausible range (docs/clinical-rules.md §1.1): the
# application stores it only once the user confirmed it.
IMPLAUSIBLE_VALUE = "implausible_value"
METHOD_MEASURED = "measured"
METHOD_EXTRAPOLATED = "extrapolated"

# docs/clinical-rules.md §2: steady state after 5 half-lives; a dose is missed beyond 1.5 dosing
# intervals; within 0.5 h of tau the sample counts as a measured trough; drugs that cannot be
# extrapolated accept only samples within 1 h of tau.
STEADY_STATE_HALF_LIVES = 5
MISSED_DOSE_INTERVALS = Decimal("1.5")
MEASURED_WINDOW_H = Decimal("0.5")
NO_EXTRAPOLATION_WINDOW_H = Decimal(1)

_SECONDS_PER_HOUR = Decimal(3600)
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class SampleInput:
    """One drawn sample: times are aware datetimes; the result is already in ng/mL.

    `concentration_ng_ml` may be None (or the assay's LLOQ) when `below_lloq` is set.
    """

    drawn_at: datetime
    last_dose_at: datetime | None
    concentration_ng_ml: Decimal | None
    below_lloq: bool = False


@dataclass(frozen=True)
class CtroughEstimate:
    """The outcome of the Ctrough rules (docs/clinical-rules.md §2) for one sample.

    `reasons` lists every applicable code in `REASON_ORDER`; `ctrough_ng_ml` and `method` are
    None unless the sample is evaluable. `steady_state_at` is the moment 5 half-lives after the
    reference day when the sample was drawn before it (else None); `cycle_day` is the 1-based day
    of the draw within its cycle for intermittent schedules (else None).
    """

    evaluable: bool
    reasons: tuple[str, ...]
    hours_after_dose: Decimal | None
    ctrough_ng_ml: Decimal | None
    method: str | None
    warnings: tuple[str, ...]
    provisional: bool
    tau_h: Decimal
    steady_state_at: datetime | None
    cycle_day: int | None


def quantize_cents(value: Decimal) -> Decimal:
    """Round to 0.01 with halves away from zero, the rounding used for every shown figure."""
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def dosing_interval_h(administrations_per_day: int) -> Decimal:
    """tau = 24 h / administrations per day (exact for 1-4: 24, 12, 8, 6)."""
    if not 1 <= administrations_per_day <= 4:
        raise ValueError("administrations_per_day must be between 1 and 4")
    return Decimal(24) / administrations_per_day


def _seconds(delta: timedelta) -> Decimal:
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / 1_000_000


def _require_aware(moment: datetime, name: str) -> None:
    if moment.utcoffset() is None:
        raise ValueError(f"{name} must carry a time zone offset")


def local_date(moment: datetime) -> date:
    """The calendar date of an aware datetime in its own UTC offset."""
    return moment.date()


def cycle_day(drug: DrugFacts, treatment_start: date, on: date) -> int | None:
    """Day of `on` within its cycle (day 1 = treatment start), or None for continuous drugs."""
    if drug.cycle_length_days is None:
        return None
    return (on - treatment_start).days % drug.cycle_length_days + 1


def is_off_cycle(drug: DrugFacts, treatment_start: date, on: date) -> bool:
    """True when `on` falls after day `cycle_on_days` of its cycle (docs/clinical-rules.md §2.1,
    `off_cycle`)."""
    day = cycle_day(drug, treatment_start, on)
    return day is not None and drug.cycle_on_days is not None and day > drug.cycle_on_days


def steady_state_reference(
    drug: DrugFacts, treatment_start: date, last_dose_change: date | None, on: date
) -> date:
    """The day exposure last started building up before the draw date `on`.

    The latest of the treatment start, the last start/resume/dose change and, for intermittent
    schedules, day 1 of the current on-period: after an off-period the drug is washed out and
    every cycle is a resumption.
    """
    candidates = [treatment_start]
    if last_dose_change is not None:
        candidates.append(last_dose_change)
    day = cycle_day(drug, treatment_start, on)
    if day is not None and not is_off_cycle(drug, treatment_start, on):
        candidates.append(on - timedelta(days=day - 1))
    return max(candidates)


def estimate_ctrough(
    sample: SampleInput,
    *,
    drug: DrugFacts,
    administrations_per_day: int,
    treatment_start: date,
    last_dose_change: date | None,
) -> CtroughEstimate:
    """Apply docs/clinical-rules.md §2 to one sample of a patient on `drug` at the given dosing
    frequency."""
    _require_aware(sample.drawn_at, "drawn_at")
    if not sample.below_lloq and sample.concentration_ng_ml is None:
        raise ValueError("a sample without a concentration must be flagged below_lloq")
    if sample.last_dose_at is not None:
        _require_aware(sample.last_dose_at, "last_dose_at")
    tau_h = dosing_interval_h(administrations_per_day)
    tau_s = tau_h * _SECONDS_PER_HOUR
    draw_date = local_date(sample.drawn_at)
    reasons: list[str] = []
    elapsed_s: Decimal | None = None
    hours_after_dose: Decimal | None = None

    if sample.last_dose_at is None:
        reasons.append(LAST_DOSE_MISSING)
    else:
        # In UTC: two times of one zone subtract as wall-clock times, an hour off across a
        # daylight-saving change.
        elapsed_s = _seconds(sample.drawn_at.astimezone(UTC) - sample.last_dose_at.astimezone(UTC))
        hours_after_dose = quantize_cents(elapsed_s / _SECONDS_PER_HOUR)
        if elapsed_s < 0:
            # A dose after the draw means the recorded times are wrong: the time-window codes
            # below describe a sample after a dose and would only add noise.
            reasons.append(LAST_DOSE_AFTER_DRAW)
        else:
            if elapsed_s < drug.earliest_extrapolation_h * _SECONDS_PER_HOUR:
                reasons.append(BEFORE_MIN_TIME)
            if elapsed_s > MISSED_DOSE_INTERVALS * tau_s:
                reasons.append(MISSED_DOSE)
            if (
                not drug.extrapolation
                and abs(elapsed_s - tau_s) > NO_EXTRAPOLATION_WINDOW_H * _SECONDS_PER_HOUR
            ):
                reasons.append(EXTRAPOLATION_NOT_VALID)
    if is_off_cycle(drug, treatment_start, draw_date):
        reasons.append(OFF_CYCLE)
    if sample.below_lloq:
        reasons.append(BELOW_LLOQ)

    day = cycle_day(drug, treatment_start, draw_date)
    # Listed whether or not the sample is evaluable: whoever reads the advice must know that the
    # value was confirmed outside the drug's plausible range.
    value_warnings = (
        (IMPLAUSIBLE_VALUE,)
        if implausible_concentration(sample.concentration_ng_ml, drug, below_lloq=sample.below_lloq)
        else ()
    )
    if reasons:
        return CtroughEstimate(
            evaluable=False,
            reasons=tuple(reasons),
            hours_after_dose=hours_after_dose,
            ctrough_ng_ml=None,
            method=None,
            warnings=value_warnings,
            provisional=False,
            tau_h=tau_h,
            steady_state_at=None,
            cycle_day=day,
        )

    assert elapsed_s is not None  # noqa: S101 - no reasons means the last dose is known
    assert sample.concentration_ng_ml is not None  # noqa: S101 - idem, not below LLOQ
    exponent = float((tau_s - elapsed_s) / (drug.half_life_h * _SECONDS_PER_HOUR))
    estimate = float(sample.concentration_ng_ml) * 0.5**exponent
    # repr() gives the shortest decimal that reads back as the same float, so halves are
    # rounded as a person reading the figure would round them.
    ctrough = quantize_cents(Decimal(repr(estimate)))
    within_trough_window = abs(tau_s - elapsed_s) <= MEASURED_WINDOW_H * _SECONDS_PER_HOUR

    reference = steady_state_reference(drug, treatment_start, last_dose_change, draw_date)
    # The day counts from 00:00 in the draw's own offset, so the rule does not depend on where
    # the server runs or on a daylight-saving change between the reference day and the draw.
    reference_start = datetime.combine(
        reference, time(0), tzinfo=timezone(sample.drawn_at.utcoffset() or timedelta(0))
    )
    steady_state_at = reference_start + timedelta(
        hours=float(STEADY_STATE_HALF_LIVES * drug.half_life_h)
    )
    before_steady_state = sample.drawn_at < steady_state_at
    return CtroughEstimate(
        evaluable=True,
        reasons=(),
        hours_after_dose=hours_after_dose,
        ctrough_ng_ml=ctrough,
        method=METHOD_MEASURED if within_trough_window else METHOD_EXTRAPOLATED,
        warnings=value_warnings + ((NOT_STEADY_STATE,) if before_steady_state else ()),
        provisional=before_steady_state,
        tau_h=tau_h,
        steady_state_at=steady_state_at if before_steady_state else None,
        cycle_day=day,
    )
