"""The advice rules: one action per sample (docs/clinical-rules.md §3, the advice table).

`advise(case)` is the engine's single entry point for a sample: it estimates Ctrough
(`advice.engine.pk`), takes the worst active treatment-related AE grade, walks the advice table in
its order (first matching row wins), proposes a regimen split with `advice.engine.dosing`, and
writes the text a physician signs (`advice.engine.text`). `advise_edited(case, proposed)` runs the
same table with the pharmacist's regimen as the proposal (docs/workflow.md §2): the action, split,
prediction, warnings, checks and text follow the edited dose, or the edit is refused naming the
field. `advice.engine.toxicity` is the AE-driven counterpart (Bolondi et al., Future Oncol 2015,
table 5, applied to every drug). All are pure: the caller supplies every input.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from advice.engine import pk
from advice.engine.case import AdviceCase, AdviceResult, Regimen
from advice.engine.codes import (
    ABOVE_LABEL_DOSE,
    BELOW_LOWEST_LEVEL,
    CHECK_ADHERENCE,
    CONTINUE,
    CONTINUE_STEP_UP,
    ESCALATION_CHECKS,
    INCREASE,
    MAX_DOSE_REACHED,
    NO_ESCALATION_GRADE,
    NO_ESCALATION_TOXICITY,
    NO_TARGET,
    NONLINEAR_ABSORPTION,
    PHASE_STEP_UP,
    PHASES,
    REDUCE,
    REDUCE_AT_TARGET_GRADE,
    RESAMPLE,
    STOP_STEP_UP,
    sort_codes,
)
from advice.engine.dosing import (
    ABOVE_MAX_SINGLE_DOSE,
    ADMINISTRATIONS_CHANGED,
    MAX_ADMINISTRATIONS_PER_DAY,
    DoseSplit,
    level_down,
    level_up,
    split_daily_dose,
)
from advice.engine.errors import InputError
from advice.engine.text import advice_text, edited_advice_text, format_number
from advice.engine.toxicity import worst_active_grade

# The fields of an edited advice, as the release step names them.
EDITED_DOSE = "proposed_daily_dose_mg"
EDITED_ADMINISTRATIONS = "proposed_administrations_per_day"
# Computed actions that propose no dose at all: the sample cannot be judged against a target.
NO_DOSE_ADVICE = (RESAMPLE, NO_TARGET)


@dataclass(frozen=True)
class _Reading:
    """What the advice table reads from a case: the estimate, the worst grade, the bounds."""

    estimate: pk.CtroughEstimate
    worst_grade: int
    target: Decimal | None
    upper: Decimal | None


def _read(case: AdviceCase) -> _Reading:
    drug = case.drug
    if case.phase not in PHASES:
        raise ValueError(f"phase must be one of {', '.join(PHASES)}")
    estimate = pk.estimate_ctrough(
        case.sample,
        drug=drug,
        administrations_per_day=case.regimen.administrations_per_day,
        treatment_start=case.treatment_start,
        last_dose_change=case.last_dose_change,
    )
    return _Reading(
        estimate=estimate,
        worst_grade=worst_active_grade(case.adverse_events, pk.local_date(case.sample.drawn_at)),
        target=drug.target_ng_ml if drug.has_cmin_target else None,
        upper=drug.upper_threshold_ng_ml if drug.has_cmin_target else None,
    )


def _result(
    case: AdviceCase,
    reading: _Reading,
    *,
    action: str,
    proposed: Decimal,
    split: DoseSplit,
    warnings: list[str],
) -> AdviceResult:
    """The advice for `action` at the `proposed` daily dose given as `split`, without its text."""
    drug = case.drug
    current = case.regimen.daily_dose_mg
    ctrough = reading.estimate.ctrough_ng_ml
    predicted = None
    if ctrough is not None and action not in NO_DOSE_ADVICE:
        # docs/clinical-rules.md §5: linear prediction, exposure proportional to the daily dose.
        predicted = pk.quantize_cents(ctrough * proposed / current)
    if drug.nonlinear_absorption and proposed != current:
        warnings.append(NONLINEAR_ABSORPTION)
    if proposed > drug.label_max_daily_dose_mg:
        warnings.append(ABOVE_LABEL_DOSE)
    checks: tuple[str, ...] = ()
    if action in (INCREASE, CONTINUE_STEP_UP):
        checks = ESCALATION_CHECKS
    elif action == RESAMPLE and pk.BELOW_LLOQ in reading.estimate.reasons:
        checks = (CHECK_ADHERENCE,)
    return AdviceResult(
        drug=drug.drug,
        indication=drug.indication,
        evaluable=reading.estimate.evaluable,
        reasons=reading.estimate.reasons,
        hours_after_dose=reading.estimate.hours_after_dose,
        ctrough_ng_ml=ctrough,
        method=reading.estimate.method,
        target_ng_ml=reading.target,
        upper_threshold_ng_ml=reading.upper,
        action=action,
        current_daily_dose_mg=current,
        current_administrations_per_day=case.regimen.administrations_per_day,
        proposed_daily_dose_mg=proposed,
        proposed_administrations_per_day=split.administrations_per_day,
        proposed_split_mg=split.parts_mg,
        predicted_ctrough_ng_ml=predicted,
        warnings=sort_codes([*reading.estimate.warnings, *warnings]),
        checks=checks,
        provisional=reading.estimate.provisional,
        worst_active_grade=reading.worst_grade,
        text="",
    )


def _advise(case: AdviceCase) -> tuple[_Reading, AdviceResult]:
    drug = case.drug
    reading = _read(case)
    current = case.regimen.daily_dose_mg
    ctrough = reading.estimate.ctrough_ng_ml
    target, upper = reading.target, reading.upper

    proposed = current
    warnings: list[str] = []
    if not reading.estimate.evaluable:
        action = RESAMPLE
    elif ctrough is None or target is None:
        action = NO_TARGET
    elif (upper is not None and ctrough >= upper) or (
        ctrough >= target and reading.worst_grade >= REDUCE_AT_TARGET_GRADE
    ):
        action = REDUCE
    elif ctrough >= target:
        action = STOP_STEP_UP if case.phase == PHASE_STEP_UP else CONTINUE
    elif reading.worst_grade >= NO_ESCALATION_GRADE:
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
    result = _result(
        case, reading, action=action, proposed=proposed, split=split, warnings=warnings
    )
    return reading, replace(result, text=advice_text(case, reading.estimate, result, split))


def advise(case: AdviceCase) -> AdviceResult:
    """Advise on one sample by the advice table (module docstring)."""
    return _advise(case)[1]


def edited_action(case: AdviceCase, proposed_daily_dose_mg: Decimal) -> str:
    """The action of a proposal against the current daily dose (docs/workflow.md §2): higher is
    an increase, lower a reduction, equal a continuation (in step-up: the step-up goes on or
    stops)."""
    step_up = case.phase == PHASE_STEP_UP
    current = case.regimen.daily_dose_mg
    if proposed_daily_dose_mg > current:
        return CONTINUE_STEP_UP if step_up else INCREASE
    if proposed_daily_dose_mg < current:
        return REDUCE
    return STOP_STEP_UP if step_up else CONTINUE


def _mg(value: Decimal) -> str:
    return f"{format_number(value)} mg"


def _administrations(count: int) -> str:
    return f"{count} administration{'' if count == 1 else 's'} a day"


def _edited_split(case: AdviceCase, proposed: Regimen) -> DoseSplit:
    """The split of the edited regimen, or `InputError` naming the field that cannot be kept."""
    drug = case.drug
    dose, administrations = proposed.daily_dose_mg, proposed.administrations_per_day
    if not 1 <= administrations <= MAX_ADMINISTRATIONS_PER_DAY:
        raise InputError(EDITED_ADMINISTRATIONS, "Give 1 to 4 administrations a day.")
    split = split_daily_dose(dose, administrations, drug)
    if ABOVE_MAX_SINGLE_DOSE in split.warnings:
        assert drug.max_single_dose_mg is not None  # noqa: S101 - the warning needs a maximum
        raise InputError(
            EDITED_DOSE,
            f"{_mg(dose)}/day cannot be given within the largest single dose of {drug.label} "
            f"({_mg(drug.max_single_dose_mg)}) even in 4 administrations.",
        )
    if split.administrations_per_day > administrations:
        assert drug.max_single_dose_mg is not None  # noqa: S101 - only a maximum adds doses
        raise InputError(
            EDITED_ADMINISTRATIONS,
            f"{_mg(dose)}/day in {_administrations(administrations)} would exceed the largest "
            f"single dose of {drug.label} ({_mg(drug.max_single_dose_mg)}); give it in "
            f"{_administrations(split.administrations_per_day)}.",
        )
    # Against the current regimen, as for computed advice: the pharmacist's own choice of
    # frequency is a change of the patient's regimen too.
    changed = split.administrations_per_day != case.regimen.administrations_per_day
    codes = tuple(code for code in split.warnings if code != ADMINISTRATIONS_CHANGED)
    return replace(split, warnings=(ADMINISTRATIONS_CHANGED, *codes) if changed else codes)


def _check_edited_dose(case: AdviceCase, computed: AdviceResult, dose: Decimal) -> None:
    drug = case.drug
    if computed.action in NO_DOSE_ADVICE:
        why = (
            "the sample cannot be used to estimate Ctrough"
            if computed.action == RESAMPLE
            else f"{drug.drug} has no Ctrough target"
        )
        raise InputError(
            EDITED_DOSE if dose != computed.proposed_daily_dose_mg else EDITED_ADMINISTRATIONS,
            f"This advice proposes no dose change: {why}. Edit the text, or withdraw the advice.",
        )
    if dose in (computed.proposed_daily_dose_mg, case.regimen.daily_dose_mg):
        # The computed proposal, or the dose the patient takes: nothing new to justify.
        return
    if dose <= 0:
        raise InputError(
            EDITED_DOSE,
            "Propose a daily dose above 0 mg; an interruption is the physician's prescription.",
        )
    if dose > drug.max_daily_dose_mg:
        raise InputError(
            EDITED_DOSE,
            f"{_mg(dose)}/day is above the highest dose TDM may advise for {drug.label} "
            f"({_mg(drug.max_daily_dose_mg)}/day).",
        )
    if dose not in drug.dose_levels_mg:
        levels = ", ".join(format_number(level) for level in drug.dose_levels_mg)
        raise InputError(
            EDITED_DOSE, f"Propose one of the dose levels of {drug.label}: {levels} mg/day."
        )


def advise_edited(case: AdviceCase, proposed: Regimen) -> AdviceResult:
    """The advice with the pharmacist's regimen as its proposal (docs/workflow.md §2).

    The proposal as computed gives the computed advice back. The computed daily dose in
    another number of administrations keeps the computed action and re-words it. Any other
    daily dose takes its action from the current dose (`edited_action`), and the split,
    prediction, warnings, checks and text follow it; the text names the computed advice it
    replaces. Refused with an `InputError` naming `proposed_daily_dose_mg` or
    `proposed_administrations_per_day`: a regimen for a `resample` or `no_target` advice, a dose
    that is not a dose level or above `max_daily_dose_mg`, or a number of administrations that
    would put a part above the largest single dose.
    """
    reading, computed = _advise(case)
    dose = proposed.daily_dose_mg
    if (dose, proposed.administrations_per_day) == (
        computed.proposed_daily_dose_mg,
        computed.proposed_administrations_per_day,
    ):
        return computed
    _check_edited_dose(case, computed, dose)
    split = _edited_split(case, proposed)
    warnings = list(split.warnings)
    if dose == computed.proposed_daily_dose_mg:
        if BELOW_LOWEST_LEVEL in computed.warnings:
            warnings.append(BELOW_LOWEST_LEVEL)
        result = _result(
            case, reading, action=computed.action, proposed=dose, split=split, warnings=warnings
        )
        return replace(result, text=advice_text(case, reading.estimate, result, split))
    result = _result(
        case,
        reading,
        action=edited_action(case, dose),
        proposed=dose,
        split=split,
        warnings=warnings,
    )
    text = edited_advice_text(case, reading.estimate, result, split, computed)
    return replace(result, text=text)
