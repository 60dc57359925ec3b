"""Reading a dose history: the regimen on a day, the treatment's status and phase.

Pure functions over plain values (no ORM), shared by models, the schedule and study outcomes.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class DoseStep:
    """One regimen of a dose history: this daily dose from this date on (0 mg = interrupted)."""

    effective_from: datetime.date
    daily_dose_mg: Decimal
    administrations_per_day: int


def step_on(day: datetime.date, history: Sequence[DoseStep]) -> DoseStep | None:
    """The regimen in effect on `day`: the latest one that took effect on or before it."""
    current = None
    for step in sorted(history, key=lambda s: s.effective_from):
        if step.effective_from > day:
            break
        current = step
    return current


def status_on(
    day: datetime.date, history: Sequence[DoseStep], stop_date: datetime.date | None
) -> str:
    """`stopped` from the stop date on, `interrupted` while the regimen is 0 mg, else `active`."""
    if stop_date is not None and day >= stop_date:
        return "stopped"
    step = step_on(day, history)
    if step is not None and step.daily_dose_mg == 0:
        return "interrupted"
    return "active"


def phase_on(
    day: datetime.date, history: Sequence[DoseStep], standard_daily_dose_mg: Decimal
) -> str:
    """`step_up` until a dose ≥ the standard daily dose took effect on or before `day`
    (docs/study-outcomes.md §5)."""
    reached = any(
        step.effective_from <= day and step.daily_dose_mg >= standard_daily_dose_mg
        for step in history
    )
    return "maintenance" if reached else "step_up"


def last_change_on(day: datetime.date, history: Sequence[DoseStep]) -> datetime.date | None:
    """When the daily dose in effect on `day` began: the start, a resume or a dose change.

    Regimens that only re-split the same daily dose do not restart the way to steady state.
    """
    steps = [s for s in sorted(history, key=lambda s: s.effective_from) if s.effective_from <= day]
    if not steps:
        return None
    index = len(steps) - 1
    while index > 0 and steps[index - 1].daily_dose_mg == steps[index].daily_dose_mg:
        index -= 1
    return steps[index].effective_from
