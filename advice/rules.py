"""The advice rules: one action per sample (SPEC §5 table) and per logged adverse event.

`advise(case)` is the engine's single entry point for a sample: it estimates Ctrough
(`advice.pk`), takes the worst active treatment-related AE grade, walks the SPEC §5 table in
its order (first matching row wins), proposes a regimen split with `advice.dosing`, and writes
the text a physician signs. `toxicity_advice(...)` is the AE-driven counterpart (seeds/002
table 5, applied to every drug). Both are pure: the caller supplies every input.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from advice import pk
from advice.catalogue import DrugFacts
from advice.dosing import (
    ABOVE_MAX_SINGLE_DOSE,
    ADMINISTRATIONS_CHANGED,
    STRENGTHS_MISMATCH,
    DoseSplit,
    level_down,
    level_up,
    split_daily_dose,
)

PHASE_STEP_UP = "step_up"
PHASE_MAINTENANCE = "maintenance"
PHASES = (PHASE_STEP_UP, PHASE_MAINTENANCE)

# Sample advice actions, in the order of the SPEC §5 table.
RESAMPLE = "resample"
NO_TARGET = "no_target"
REDUCE = "reduce"
STOP_STEP_UP = "stop_step_up"
CONTINUE = "continue"
NO_ESCALATION_TOXICITY = "no_escalation_toxicity"
MAX_DOSE_REACHED = "max_dose_reached"
CONTINUE_STEP_UP = "continue_step_up"
INCREASE = "increase"
ACTIONS = (
    RESAMPLE,
    NO_TARGET,
    REDUCE,
    STOP_STEP_UP,
    CONTINUE,
    NO_ESCALATION_TOXICITY,
    MAX_DOSE_REACHED,
    CONTINUE_STEP_UP,
    INCREASE,
)

# Toxicity (AE) advice actions, seeds/002 table 5.
REASSESS = "reassess"
INTERRUPT_THEN_REDUCE = "interrupt_then_reduce"
DISCONTINUE = "discontinue"
INTERRUPT = "interrupt"
TOXICITY_ACTIONS = (CONTINUE, REASSESS, INTERRUPT_THEN_REDUCE, DISCONTINUE, INTERRUPT)

BELOW_LOWEST_LEVEL = "below_lowest_level"
NONLINEAR_ABSORPTION = "nonlinear_absorption"
ABOVE_LABEL_DOSE = "above_label_dose"
# Every warning code, in the order `warnings` lists them.
WARNING_ORDER: tuple[str, ...] = (
    pk.NOT_STEADY_STATE,
    BELOW_LOWEST_LEVEL,
    ADMINISTRATIONS_CHANGED,
    STRENGTHS_MISMATCH,
    ABOVE_MAX_SINGLE_DOSE,
    NONLINEAR_ABSORPTION,
    ABOVE_LABEL_DOSE,
)

CHECK_ADHERENCE = "adherence"
CHECK_DRUG_INTERACTIONS = "drug_interactions"
# seeds/000 §2.2: adherence and drug-drug interactions were checked before every increase.
ESCALATION_CHECKS = (CHECK_ADHERENCE, CHECK_DRUG_INTERACTIONS)

# SPEC §5 thresholds on the worst active treatment-related AE grade.
NO_ESCALATION_GRADE = 2
REDUCE_AT_TARGET_GRADE = 3

# One line per reason, warning and check code, for reports and screens.
CODE_DESCRIPTIONS: dict[str, str] = {
    pk.LAST_DOSE_MISSING: "time of the last dose unknown",
    pk.LAST_DOSE_AFTER_DRAW: "last dose recorded after the draw",
    pk.BEFORE_MIN_TIME: "drawn before the earliest time after a dose that can be extrapolated",
    pk.MISSED_DOSE: "drawn more than 1.5 dosing intervals after the last dose: a dose was missed",
    pk.EXTRAPOLATION_NOT_VALID: "drug cannot be extrapolated and the sample is not within 1 h "
    "of trough",
    pk.OFF_CYCLE: "drawn in the off period of an intermittent schedule",
    pk.BELOW_LLOQ: "result below the assay's lower limit of quantification",
    pk.NOT_STEADY_STATE: "drawn less than 5 half-lives after the start, resumption or last dose "
    "change: advice is provisional",
    BELOW_LOWEST_LEVEL: "a reduction is indicated but the dose is already at the lowest level",
    ADMINISTRATIONS_CHANGED: "the number of administrations a day changes",
    STRENGTHS_MISMATCH: "the dose cannot be made from the available strengths; parts are an "
    "equal split",
    ABOVE_MAX_SINGLE_DOSE: "a part exceeds the maximum single dose even at 4 administrations",
    NONLINEAR_ABSORPTION: "exposure may rise less than proportionally",
    ABOVE_LABEL_DOSE: "the proposed dose is above the label's maximum daily dose",
    CHECK_ADHERENCE: "confirm the patient takes every dose as prescribed",
    CHECK_DRUG_INTERACTIONS: "check co-medication (and food) for interactions",
}


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


@dataclass(frozen=True)
class ToxicityAdvice:
    """The advice on logging an adverse event (seeds/002 table 5).

    `resume_*` describe the regimen to resume at after an interruption (None / empty when the
    action resumes at no lower dose); `measure_ctrough` is set after a toxicity-driven reduction.
    """

    action: str
    term: str
    grade: int
    occurrence: int
    current_daily_dose_mg: Decimal
    resume_daily_dose_mg: Decimal | None
    resume_administrations_per_day: int | None
    resume_split_mg: tuple[Decimal, ...]
    warnings: tuple[str, ...]
    measure_ctrough: bool
    text: str


def is_active(event: AdverseEventInput, on: date) -> bool:
    """An AE is active on a date if it began on or before it and was not resolved before it."""
    return event.onset <= on and (event.resolved is None or event.resolved >= on)


def worst_active_event(events: Iterable[AdverseEventInput], on: date) -> AdverseEventInput | None:
    """The active treatment-related AE of the highest grade on `on` (ties: first term by name)."""
    candidates = [event for event in events if event.related and is_active(event, on)]
    if not candidates:
        return None
    return min(candidates, key=lambda event: (-event.grade, event.term.casefold()))


def worst_active_grade(events: Iterable[AdverseEventInput], on: date) -> int:
    """The highest grade of the treatment-related AEs active on `on`; 0 when there are none."""
    worst = worst_active_event(events, on)
    return 0 if worst is None else worst.grade


def _sort_codes(codes: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(codes), key=WARNING_ORDER.index))


def advise(case: AdviceCase) -> AdviceResult:
    """Advise on one sample by the SPEC §5 table (module docstring)."""
    drug = case.drug
    if case.phase not in PHASES:
        raise ValueError(f"phase must be one of {', '.join(PHASES)}")
    current = case.regimen.daily_dose_mg
    estimate = pk.estimate_ctrough(
        case.sample,
        drug=drug,
        administrations_per_day=case.regimen.administrations_per_day,
        treatment_start=case.treatment_start,
        last_dose_change=case.last_dose_change,
    )
    draw_date = pk.local_date(case.sample.drawn_at)
    worst_grade = worst_active_grade(case.adverse_events, draw_date)
    ctrough = estimate.ctrough_ng_ml
    target = drug.target_ng_ml if drug.has_cmin_target else None
    upper = drug.upper_threshold_ng_ml if drug.has_cmin_target else None

    proposed = current
    warnings: list[str] = list(estimate.warnings)
    if not estimate.evaluable:
        action = RESAMPLE
    elif ctrough is None or target is None:
        action = NO_TARGET
    elif (upper is not None and ctrough >= upper) or (
        ctrough >= target and worst_grade >= REDUCE_AT_TARGET_GRADE
    ):
        action = REDUCE
    elif ctrough >= target:
        action = STOP_STEP_UP if case.phase == PHASE_STEP_UP else CONTINUE
    elif worst_grade >= NO_ESCALATION_GRADE:
        action = NO_ESCALATION_TOXICITY
    elif current >= drug.max_daily_dose_mg:
        action = MAX_DOSE_REACHED
    else:
        action = CONTINUE_STEP_UP if case.phase == PHASE_STEP_UP else INCREASE
        higher = level_up(drug, current)
        assert higher is not None  # noqa: S101 - max_daily_dose_mg is a level above current
        proposed = higher
    if action == REDUCE:
        lower = level_down(drug, current)
        if lower is None:
            warnings.append(BELOW_LOWEST_LEVEL)
        else:
            proposed = lower

    split = split_daily_dose(proposed, case.regimen.administrations_per_day, drug)
    warnings.extend(split.warnings)
    predicted = None
    if ctrough is not None and action not in (RESAMPLE, NO_TARGET):
        # SPEC §5: linear prediction, exposure proportional to the daily dose.
        predicted = pk.quantize_cents(ctrough * proposed / current)
    if drug.nonlinear_absorption and proposed != current:
        warnings.append(NONLINEAR_ABSORPTION)
    if proposed > drug.label_max_daily_dose_mg:
        warnings.append(ABOVE_LABEL_DOSE)
    checks: tuple[str, ...] = ()
    if action in (INCREASE, CONTINUE_STEP_UP):
        checks = ESCALATION_CHECKS
    elif action == RESAMPLE and pk.BELOW_LLOQ in estimate.reasons:
        checks = (CHECK_ADHERENCE,)

    result = AdviceResult(
        drug=drug.drug,
        indication=drug.indication,
        evaluable=estimate.evaluable,
        reasons=estimate.reasons,
        hours_after_dose=estimate.hours_after_dose,
        ctrough_ng_ml=ctrough,
        method=estimate.method,
        target_ng_ml=target,
        upper_threshold_ng_ml=upper,
        action=action,
        current_daily_dose_mg=current,
        current_administrations_per_day=case.regimen.administrations_per_day,
        proposed_daily_dose_mg=proposed,
        proposed_administrations_per_day=split.administrations_per_day,
        proposed_split_mg=split.parts_mg,
        predicted_ctrough_ng_ml=predicted,
        warnings=_sort_codes(warnings),
        checks=checks,
        provisional=estimate.provisional,
        worst_active_grade=worst_grade,
        text="",
    )
    return replace(result, text=_advice_text(case, estimate, result, split))


# --- text -----------------------------------------------------------------------------------

_FREQUENCY = {1: "once daily", 2: "twice daily", 3: "three times daily", 4: "four times daily"}
_ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}


def format_number(value: Decimal) -> str:
    """A Decimal in plain notation without trailing zeros: 2870.00 → 2870, 37.50 → 37.5."""
    return f"{value.normalize():f}"


def _format_predicted(value: Decimal) -> str:
    # Only the estimate is judged, so only it is shown to the judged 0.01; a linear
    # prediction is shown without suggesting more precision than it has.
    places = Decimal(1) if value >= 100 else Decimal("0.1") if value >= 10 else Decimal("0.01")
    return format_number(value.quantize(places, rounding=ROUND_HALF_UP))


def _format_regimen(split: DoseSplit, current_administrations: int) -> str:
    daily = f"{format_number(split.daily_dose_mg)} mg/day"
    if split.administrations_per_day == 1:
        schedule = "once daily"
    else:
        schedule = " + ".join(f"{format_number(part)} mg" for part in split.parts_mg)
    if split.administrations_per_day != current_administrations:
        schedule += (
            f", {_FREQUENCY[split.administrations_per_day]} instead of "
            f"{_FREQUENCY[current_administrations]}"
            if split.administrations_per_day != 1
            else f" instead of {_FREQUENCY[current_administrations]}"
        )
    return f"{daily} ({schedule})"


def _concentration_subject(drug: DrugFacts, estimate: pk.CtroughEstimate) -> str:
    kind = "whole-blood Ctrough" if "whole blood" in drug.unit else "Ctrough"
    return f"Estimated {kind} {format_number(estimate.ctrough_ng_ml or Decimal(0))} ng/mL"


def _extrapolation_note(case: AdviceCase, estimate: pk.CtroughEstimate) -> str:
    if estimate.method != pk.METHOD_EXTRAPOLATED or case.sample.concentration_ng_ml is None:
        return ""
    return (
        f" (extrapolated from {format_number(case.sample.concentration_ng_ml)} ng/mL drawn "
        f"{format_number(estimate.hours_after_dose or Decimal(0))} h after the dose)"
    )


def _reason_phrase(code: str, case: AdviceCase, estimate: pk.CtroughEstimate) -> str:
    drug = case.drug
    hours = format_number(estimate.hours_after_dose or Decimal(0))
    if code == pk.LAST_DOSE_MISSING:
        return "the time of the last dose is not recorded"
    if code == pk.LAST_DOSE_AFTER_DRAW:
        return f"the recorded last dose is {hours.lstrip('-')} h after the draw"
    if code == pk.BEFORE_MIN_TIME:
        return (
            f"it was drawn {hours} h after the dose, earlier than the "
            f"{format_number(drug.earliest_extrapolation_h)} h after which {drug.drug} can be "
            "extrapolated"
        )
    if code == pk.MISSED_DOSE:
        return (
            f"it was drawn {hours} h after the last dose, more than 1.5 dosing intervals "
            f"({format_number(pk.MISSED_DOSE_INTERVALS * estimate.tau_h)} h): a dose was missed"
        )
    if code == pk.EXTRAPOLATION_NOT_VALID:
        return (
            f"{drug.drug} concentrations cannot be extrapolated and it was drawn {hours} h "
            f"after the dose, more than 1 h from the {format_number(estimate.tau_h)} h trough"
        )
    if code == pk.OFF_CYCLE:
        return (
            f"it was drawn on day {estimate.cycle_day} of the {drug.cycle_length_days}-day "
            f"cycle, in the off period (days {(drug.cycle_on_days or 0) + 1}"
            f"-{drug.cycle_length_days})"
        )
    return (
        "the result is below the assay's lower limit of quantification, which points at "
        "missed doses: check adherence"
    )


def _advice_text(
    case: AdviceCase, estimate: pk.CtroughEstimate, result: AdviceResult, split: DoseSplit
) -> str:
    drug = case.drug
    name = drug.drug
    regimen = _format_regimen(split, case.regimen.administrations_per_day)
    current = f"{format_number(result.current_daily_dose_mg)} mg/day"
    subject = _concentration_subject(drug, estimate) + _extrapolation_note(case, estimate)
    target = f"{format_number(result.target_ng_ml or Decimal(0))} ng/mL"
    predicted = ""
    if result.predicted_ctrough_ng_ml is not None:
        predicted = f"; predicted Ctrough {_format_predicted(result.predicted_ctrough_ng_ml)} ng/mL"
        if NONLINEAR_ABSORPTION in result.warnings:
            predicted += " (exposure may rise less than proportionally)"
    grade = result.worst_active_grade

    if result.action == RESAMPLE:
        reasons = "; ".join(_reason_phrase(code, case, estimate) for code in result.reasons)
        when = "at trough, just before a dose"
        if pk.OFF_CYCLE in result.reasons:
            when += f", on days 1-{drug.cycle_on_days} of a cycle"
        text = (
            f"The sample cannot be used to estimate Ctrough: {reasons}. Take a new sample "
            f"{when}; {name} unchanged at {regimen}."
        )
    elif result.action == NO_TARGET:
        mean = (
            f"population mean {format_number(drug.mean_exposure)} {drug.unit}"
            if drug.mean_exposure is not None
            else "no population mean"
        )
        aim = (
            f"target {format_number(drug.target_ng_ml)} {drug.unit}; {mean}"
            if drug.target_ng_ml is not None
            else f"no validated target; {mean}"
        )
        text = (
            f"{name.capitalize()} is monitored by AUC ({aim}), not by Ctrough: {subject[0].lower()}"
            f"{subject[1:]} is recorded for comparison with the mean exposure, without dose "
            f"advice; {name} unchanged at {regimen}."
        )
    elif result.action == REDUCE:
        if (
            result.upper_threshold_ng_ml is not None
            and (result.ctrough_ng_ml or 0) >= result.upper_threshold_ng_ml
        ):
            why = (
                f"{subject} is at or above the upper threshold of "
                f"{format_number(result.upper_threshold_ng_ml)} ng/mL"
            )
        else:
            why = (
                f"{subject} is at or above the target of {target} with active "
                f"treatment-related toxicity of grade {grade}"
            )
        if BELOW_LOWEST_LEVEL in result.warnings:
            text = (
                f"{why}. A reduction is indicated, but {current} is not above the lowest dose "
                f"level ({format_number(drug.dose_levels_mg[0])} mg/day): dose unchanged; the "
                f"physician decides whether to interrupt or stop {name}."
            )
        else:
            text = f"{why}. Reduce {name} from {current} to {regimen}{predicted}."
    elif result.action == STOP_STEP_UP:
        text = (
            f"{subject} has reached the target of {target} during step-up. Stop the step-up: "
            f"continue {name} {regimen}."
        )
    elif result.action == CONTINUE:
        below_upper = (
            f" and below the upper threshold of {format_number(result.upper_threshold_ng_ml)} ng/mL"
            if result.upper_threshold_ng_ml is not None
            else ""
        )
        text = (
            f"{subject} is at or above the target of {target}{below_upper}. "
            f"Continue {name} {regimen}."
        )
    elif result.action == NO_ESCALATION_TOXICITY:
        text = (
            f"{subject} is below the target of {target}, but treatment-related toxicity of "
            f"grade {grade} is active. Do not increase: continue {name} {regimen}."
        )
    elif result.action == MAX_DOSE_REACHED:
        text = (
            f"{subject} is below the target of {target}, but {current} is already at or above "
            f"the highest dose TDM may advise ({format_number(drug.max_daily_dose_mg)} mg/day). "
            f"Continue {name} {regimen}."
        )
    else:
        step_up = " during step-up" if result.action == CONTINUE_STEP_UP else ""
        verb = "Continue the step-up: increase" if result.action == CONTINUE_STEP_UP else "Increase"
        text = (
            f"{subject} is below the target of {target}{step_up} without treatment-related "
            f"toxicity of grade {NO_ESCALATION_GRADE} or higher. {verb} {name} from {current} "
            f"to {regimen}{predicted}."
        )
    if result.provisional and estimate.steady_state_at is not None:
        hours = pk.STEADY_STATE_HALF_LIVES * drug.half_life_h
        text += (
            f" Provisional: drawn before steady state (5 half-lives = {format_number(hours)} h "
            f"after the start or last dose change); confirm with a sample after "
            f"{estimate.steady_state_at:%Y-%m-%d %H:%M}."
        )
    return text


# --- toxicity-driven advice -----------------------------------------------------------------


def occurrence_number(term: str, onset: date, other_events: Iterable[tuple[str, date]]) -> int:
    """The occurrence number of an AE of `term` starting on `onset` within its treatment.

    `other_events` are the (term, onset) of the treatment's other logged AEs; each record of
    the same term (ignoring case) with an onset on or before `onset` is an earlier occurrence.
    """
    key = term.strip().casefold()
    return 1 + sum(
        1
        for other_term, other_onset in other_events
        if other_term.strip().casefold() == key and other_onset <= onset
    )


def toxicity_action(grade: int, occurrence: int, *, no_improvement_7_days: bool = False) -> str:
    """The seeds/002 table 5 action for a treatment-related AE of `grade` (1-5).

    Grade 5 (death) ends the treatment: `discontinue`.
    """
    if not 1 <= grade <= 5:
        raise ValueError("grade must be between 1 and 5")
    if occurrence < 1:
        raise ValueError("occurrence must be 1 or more")
    if grade == 1:
        return CONTINUE
    if grade == 2:
        if occurrence >= 4:
            return DISCONTINUE
        if occurrence == 1 and not no_improvement_7_days:
            return REASSESS
        return INTERRUPT_THEN_REDUCE
    if grade == 3:
        return INTERRUPT_THEN_REDUCE if occurrence <= 2 else DISCONTINUE
    if grade == 4:
        return INTERRUPT
    return DISCONTINUE


def toxicity_advice(
    *,
    term: str,
    grade: int,
    occurrence: int,
    regimen: Regimen,
    drug: DrugFacts,
    no_improvement_7_days: bool = False,
    related: bool = True,
) -> ToxicityAdvice:
    """Advice on logging an AE (SPEC §5, seeds/002 table 5), for every drug.

    An AE not related to the treatment (below grade 5) gives `continue` and leaves the decision
    to the physician: the table is about drug toxicity. After a toxicity-driven reduction the
    text recommends measuring Ctrough (seeds/001: it tells toxicity from high exposure apart
    from toxicity despite low exposure).
    """
    action = (
        toxicity_action(grade, occurrence, no_improvement_7_days=no_improvement_7_days)
        if related or grade == 5
        else CONTINUE
    )
    current = regimen.daily_dose_mg
    name = drug.drug
    current_split = split_daily_dose(current, regimen.administrations_per_day, drug)
    current_text = _format_regimen(current_split, regimen.administrations_per_day)
    ordinal = _ORDINALS.get(occurrence, f"{occurrence}th")
    event = f"{term} grade {grade} ({ordinal} occurrence)"
    resume: DoseSplit | None = None
    warnings: list[str] = []

    if not related and grade < 5:
        text = (
            f"{event} is recorded as not related to {name}: no dose modification by the "
            f"toxicity rules; continue {name} {current_text} unless the physician decides "
            "otherwise."
        )
    elif action == CONTINUE:
        text = f"{event}: continue {name} {current_text} and treat the symptoms."
    elif action == REASSESS:
        text = (
            f"{event}: continue {name} {current_text} with supportive treatment and re-assess "
            "in 7 days; without improvement, interrupt until grade 0-1 and resume one dose "
            "level lower."
        )
    elif action == INTERRUPT_THEN_REDUCE:
        why = " without improvement within 7 days" if no_improvement_7_days else ""
        lower = level_down(drug, current)
        if lower is None:
            warnings.append(BELOW_LOWEST_LEVEL)
            text = (
                f"{event}{why}: interrupt {name} until the toxicity has resolved to grade 0-1. "
                f"{format_number(current)} mg/day is not above the lowest dose level "
                f"({format_number(drug.dose_levels_mg[0])} mg/day): the physician decides "
                "whether to resume at this dose or discontinue."
            )
        else:
            resume = split_daily_dose(lower, regimen.administrations_per_day, drug)
            warnings.extend(resume.warnings)
            text = (
                f"{event}{why}: interrupt {name} until the toxicity has resolved to grade 0-1, "
                f"then resume one dose level lower at "
                f"{_format_regimen(resume, regimen.administrations_per_day)}. Measure Ctrough "
                "4 weeks after resuming: it tells toxicity from high exposure apart from "
                "toxicity despite low exposure."
            )
    elif action == INTERRUPT:
        text = (
            f"{event}: interrupt {name}; the physician decides whether to discontinue. If "
            f"{name} is resumed at a lower dose, measure Ctrough 4 weeks after resuming."
        )
    elif grade == 5:
        text = f"{event}, fatal: {name} is discontinued; record the treatment as stopped."
    else:
        text = f"{event}: discontinue {name}."

    return ToxicityAdvice(
        action=action,
        term=term,
        grade=grade,
        occurrence=occurrence,
        current_daily_dose_mg=current,
        resume_daily_dose_mg=None if resume is None else resume.daily_dose_mg,
        resume_administrations_per_day=None if resume is None else resume.administrations_per_day,
        resume_split_mg=() if resume is None else resume.parts_mg,
        warnings=_sort_codes(warnings),
        measure_ctrough=resume is not None,
        text=text,
    )
