"""The codes the engine answers with: actions, reasons, warnings and checks.

The meaning of each is in docs/clinical-rules.md; `text.CODE_DESCRIPTIONS` words them.
"""

from __future__ import annotations

from collections.abc import Iterable

from advice.engine import pk
from advice.engine.dosing import ABOVE_MAX_SINGLE_DOSE, ADMINISTRATIONS_CHANGED, STRENGTHS_MISMATCH

PHASE_STEP_UP = "step_up"
PHASE_MAINTENANCE = "maintenance"
PHASES = (PHASE_STEP_UP, PHASE_MAINTENANCE)

# Sample advice actions, in the order of the advice table (docs/clinical-rules.md §3).
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

# Toxicity (AE) advice actions, Bolondi et al., Future Oncol 2015, table 5 (docs/clinical-rules.md
# §6).
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
    pk.IMPLAUSIBLE_VALUE,
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
# Guchelaar et al., Biomed Pharmacother 2022, §2.2: adherence and drug-drug interactions were
# checked before every increase.
ESCALATION_CHECKS = (CHECK_ADHERENCE, CHECK_DRUG_INTERACTIONS)

# Thresholds on the worst active treatment-related AE grade (docs/clinical-rules.md §3, rows 4
# and 7).
NO_ESCALATION_GRADE = 2
REDUCE_AT_TARGET_GRADE = 3


def sort_codes(codes: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(codes), key=WARNING_ORDER.index))
