"""The advice rules: one action per sample (docs/clinical-rules.md §3, the advice table).

`advise(case)` is the engine's single entry point for a sample: it estimates Ctrough
(`advice.engine.pk`), takes the worst active treatment-related AE grade, walks the advice table in
its order (first matching row wins), proposes a regimen split with `advice.engine.dosing`, and
writes the text a physician signs (`advice.engine.text`). `advice.engine.toxicity` is the AE-driven
counterpart (Bolondi et al., Future Oncol 2015, table 5, applied to every drug). Both are pure: the
caller supplies every input.
"""

from __future__ import annotations

from dataclasses import replace

from advice.engine import pk
from advice.engine.case import AdviceCase, AdviceResult
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
    level_down,
    level_up,
    split_daily_dose,
)
from advice.engine.text import advice_text
from advice.engine.toxicity import worst_active_grade


def advise(case: AdviceCase) -> AdviceResult:
    """Advise on one sample by the advice table (module docstring)."""
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
        # docs/clinical-rules.md §5: linear prediction, exposure proportional to the daily dose.
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
        warnings=sort_codes(warnings),
        checks=checks,
        provisional=estimate.provisional,
        worst_active_grade=worst_grade,
        text="",
    )
    return replace(result, text=advice_text(case, estimate, result, split))
