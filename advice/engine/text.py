"""The words of the advice: what a physician reads and signs."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from advice.engine import pk
from advice.engine.case import AdviceCase, AdviceResult
from advice.engine.catalogue import DrugFacts
from advice.engine.codes import (
    ABOVE_LABEL_DOSE,
    BELOW_LOWEST_LEVEL,
    CHECK_ADHERENCE,
    CHECK_DRUG_INTERACTIONS,
    CONTINUE,
    CONTINUE_STEP_UP,
    DISCONTINUE,
    INCREASE,
    INTERRUPT,
    INTERRUPT_THEN_REDUCE,
    MAX_DOSE_REACHED,
    NO_ESCALATION_GRADE,
    NO_ESCALATION_TOXICITY,
    NO_TARGET,
    NONLINEAR_ABSORPTION,
    REDUCE,
    RESAMPLE,
    STOP_STEP_UP,
)
from advice.engine.dosing import (
    ABOVE_MAX_SINGLE_DOSE,
    ADMINISTRATIONS_CHANGED,
    STRENGTHS_MISMATCH,
    DoseSplit,
)

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
    pk.IMPLAUSIBLE_VALUE: "value outside the drug's plausible range, confirmed by the user",
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


_FREQUENCY = {1: "once daily", 2: "twice daily", 3: "three times daily", 4: "four times daily"}
ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}
_ORDINAL_SUFFIXES = {1: "st", 2: "nd", 3: "rd"}


def ordinal(number: int) -> str:
    """first to fifth in words, then 6th, 11th, 12th, 21st, 22nd, 23rd, 101st."""
    if number in ORDINALS:
        return ORDINALS[number]
    teens = number % 100 in (11, 12, 13)
    suffix = "th" if teens else _ORDINAL_SUFFIXES.get(number % 10, "th")
    return f"{number}{suffix}"


def format_number(value: Decimal) -> str:
    """A Decimal in plain notation without trailing zeros: 2870.00 → 2870, 37.50 → 37.5."""
    return f"{value.normalize():f}"


def _format_predicted(value: Decimal) -> str:
    # Only the estimate is judged, so only it is shown to the judged 0.01; a linear
    # prediction is shown without suggesting more precision than it has.
    places = Decimal(1) if value >= 100 else Decimal("0.1") if value >= 10 else Decimal("0.01")
    return format_number(value.quantize(places, rounding=ROUND_HALF_UP))


def format_regimen(split: DoseSplit, current_administrations: int) -> str:
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


def advice_text(
    case: AdviceCase, estimate: pk.CtroughEstimate, result: AdviceResult, split: DoseSplit
) -> str:
    drug = case.drug
    name = drug.drug
    regimen = format_regimen(split, case.regimen.administrations_per_day)
    current = f"{format_number(result.current_daily_dose_mg)} mg/day"
    subject = _concentration_subject(drug, estimate) + _extrapolation_note(case, estimate)
    target = f"{format_number(result.target_ng_ml or Decimal(0))} ng/mL"
    predicted = _predicted_phrase(result)
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
    return text + _provisional_note(drug, estimate, result)


def _provisional_note(drug: DrugFacts, estimate: pk.CtroughEstimate, result: AdviceResult) -> str:
    if not result.provisional or estimate.steady_state_at is None:
        return ""
    hours = pk.STEADY_STATE_HALF_LIVES * drug.half_life_h
    return (
        f" Provisional: drawn before steady state (5 half-lives = {format_number(hours)} h "
        f"after the start or last dose change); confirm with a sample after "
        f"{estimate.steady_state_at:%Y-%m-%d %H:%M}."
    )


def _predicted_phrase(result: AdviceResult) -> str:
    if result.predicted_ctrough_ng_ml is None:
        return ""
    predicted = f"; predicted Ctrough {_format_predicted(result.predicted_ctrough_ng_ml)} ng/mL"
    if NONLINEAR_ABSORPTION in result.warnings:
        predicted += " (exposure may rise less than proportionally)"
    return predicted


def _computed_summary(computed: AdviceResult, drug: DrugFacts) -> str:
    """The computed advice in a few words, for the text of an edited one."""
    dose = f"{format_number(computed.proposed_daily_dose_mg)} mg/day"
    if computed.action == INCREASE:
        return f"increase to {dose}"
    if computed.action == CONTINUE_STEP_UP:
        return f"continue the step-up to {dose}"
    if computed.action == REDUCE:
        if BELOW_LOWEST_LEVEL in computed.warnings:
            return f"reduce, with no dose level below {dose}"
        return f"reduce to {dose}"
    if computed.action == STOP_STEP_UP:
        return f"stop the step-up at {dose}"
    if computed.action == NO_ESCALATION_TOXICITY:
        return f"keep {dose} because of the toxicity"
    if computed.action == MAX_DOSE_REACHED:
        return (
            f"keep {dose}, at or above the highest dose TDM may advise "
            f"({format_number(drug.max_daily_dose_mg)} mg/day)"
        )
    return f"continue at {dose}"


def edited_advice_text(
    case: AdviceCase,
    estimate: pk.CtroughEstimate,
    result: AdviceResult,
    split: DoseSplit,
    computed: AdviceResult,
) -> str:
    """The text of an advice whose daily dose the pharmacist changed (docs/workflow.md §2): the
    estimate against the target, the edited action and regimen, and the computed advice it
    replaces. Only advice judged against a target is edited, so there is an estimate."""
    drug = case.drug
    name = drug.drug
    ctrough = result.ctrough_ng_ml or Decimal(0)
    target = result.target_ng_ml or Decimal(0)
    subject = _concentration_subject(drug, estimate) + _extrapolation_note(case, estimate)
    if result.upper_threshold_ng_ml is not None and ctrough >= result.upper_threshold_ng_ml:
        judged = (
            f"is at or above the upper threshold of "
            f"{format_number(result.upper_threshold_ng_ml)} ng/mL"
        )
    elif ctrough >= target:
        judged = f"is at or above the target of {format_number(target)} ng/mL"
    else:
        judged = f"is below the target of {format_number(target)} ng/mL"
    if result.worst_active_grade >= NO_ESCALATION_GRADE:
        judged += f", with active treatment-related toxicity of grade {result.worst_active_grade}"
    regimen = format_regimen(split, case.regimen.administrations_per_day)
    current = f"{format_number(result.current_daily_dose_mg)} mg/day"
    predicted = _predicted_phrase(result)
    if result.action == INCREASE:
        step = f"Increase {name} from {current} to {regimen}{predicted}."
    elif result.action == CONTINUE_STEP_UP:
        step = f"Continue the step-up: increase {name} from {current} to {regimen}{predicted}."
    elif result.action == REDUCE:
        step = f"Reduce {name} from {current} to {regimen}{predicted}."
    elif result.action == STOP_STEP_UP:
        step = f"Stop the step-up: continue {name} {regimen}."
    else:
        step = f"Continue {name} {regimen}."
    return (
        f"{subject} {judged}. {step} Edited by the pharmacist: the computed advice was to "
        f"{_computed_summary(computed, drug)}.{_provisional_note(drug, estimate, result)}"
    )


def decision_effect(action: str, effective_day: str | None) -> str:
    """What an accepted advice changed in the prescription, as its signature states it;
    `effective_day` is the effective date as the reader sees it, None when nothing changed."""
    if effective_day is None:
        return "no dose change"
    if action == DISCONTINUE:
        return f"the treatment stops on {effective_day}"
    if action in (INTERRUPT, INTERRUPT_THEN_REDUCE):
        return f"the treatment is interrupted from {effective_day}"
    return f"the new dose takes effect on {effective_day}"
