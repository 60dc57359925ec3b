"""Advice on a logged adverse event, and which events count as active."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from advice.engine.case import AdverseEventInput, Regimen
from advice.engine.catalogue import DrugFacts
from advice.engine.codes import (
    BELOW_LOWEST_LEVEL,
    CONTINUE,
    DISCONTINUE,
    INTERRUPT,
    INTERRUPT_THEN_REDUCE,
    REASSESS,
    sort_codes,
)
from advice.engine.dosing import (
    DoseSplit,
    level_down,
    split_daily_dose,
)
from advice.engine.text import format_number, format_regimen, ordinal


@dataclass(frozen=True)
class ToxicityAdvice:
    """The advice on logging an adverse event (Bolondi et al., Future Oncol 2015, table 5).

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
    """The action of Bolondi et al., Future Oncol 2015, table 5, for a treatment-related AE of
    `grade` (1-5).

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
    """Advice on logging an AE, for every drug (docs/clinical-rules.md §6; Bolondi et al.,
    Future Oncol 2015, table 5).

    An AE not related to the treatment (below grade 5) gives `continue` and leaves the decision to
    the physician: the table is about drug toxicity. After a toxicity-driven reduction the text
    recommends measuring Ctrough (Verheijen et al., Clin Pharmacol Ther 2017: it tells toxicity from
    high exposure apart from toxicity despite low exposure).
    """
    action = (
        toxicity_action(grade, occurrence, no_improvement_7_days=no_improvement_7_days)
        if related or grade == 5
        else CONTINUE
    )
    current = regimen.daily_dose_mg
    name = drug.drug
    current_split = split_daily_dose(current, regimen.administrations_per_day, drug)
    current_text = format_regimen(current_split, regimen.administrations_per_day)
    event = f"{term} grade {grade} ({ordinal(occurrence)} occurrence)"
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
                f"{format_regimen(resume, regimen.administrations_per_day)}. Measure Ctrough "
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
        warnings=sort_codes(warnings),
        measure_ctrough=resume is not None,
        text=text,
    )
