"""The sampling schedule of docs/sampling-schedule.md as pure functions of plain dates.

A treatment's due dates follow from its start, its dose changes, its interruptions, its stop date,
the extra samples a clinician asked for and the last day asked about (`until`). The `schedule`
command reads them from JSON with `parse_schedule_request`; code holding a dose history builds
them with `request_from_doses`.
Nothing here reads the clock: "today" is always an argument.

Rules in the order they apply (docs/sampling-schedule.md explains them for pharmacists):

1. A change to a new non-zero dose, and the resume at the end of every interruption, makes a
   `post_change` date 28 days after it takes effect. One that falls on a day that cannot be due
   (interrupted, or on or after the stop date) is discarded and replaces nothing.
2. A `post_change` date with a later `post_change` date at most 14 days after it is superseded,
   so in a run of such dates only the last is kept.
3. Regular dates are start + 28, 56, 84 days, then every 84 days. One within 14 days (either
   side, inclusive) of a kept `post_change` date is dropped, as is one on an interrupted day or on
   or after the stop date.
4. Extra dates (a sample a clinician asked for) are added as they are: they replace nothing and
   nothing replaces them. One on a day that cannot be due is dropped; one on a day the protocol
   already makes due adds nothing (the day keeps the protocol's kind: one entry per day).
5. Only now is the list cut at `until`, so a longer `until` only ever appends dates.
"""

from __future__ import annotations

import datetime as dt
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Container, Hashable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from decimal import Decimal
from itertools import chain, count, pairwise, takewhile
from typing import Literal, TypeVar

from advice.engine.errors import InputError

DueKind = Literal["regular", "post_change", "extra"]
ReminderKind = Literal["upcoming", "overdue"]

# Guchelaar et al., Biomed Pharmacother 2022, §2.2: samples at weeks 4, 8 and 12 after the start,
# then every 12 weeks.
FIRST_REGULAR_OFFSETS = (dt.timedelta(weeks=4), dt.timedelta(weeks=8), dt.timedelta(weeks=12))
REGULAR_INTERVAL = dt.timedelta(weeks=12)
# Guchelaar et al., Biomed Pharmacother 2022, §2.2: "after each dose adjustment, a new plasma sample
# ... after four weeks".
POST_CHANGE_DELAY = dt.timedelta(weeks=4)
# docs/sampling-schedule.md §3–§4: the distance (inclusive) at which a post_change date replaces
# another due date.
REPLACEMENT_WINDOW_DAYS = 14
# docs/sampling-schedule.md §8: a sample drawn this many days (inclusive) before or after a due
# date fulfils it.
FULFILMENT_WINDOW_DAYS = 7
UPCOMING_LEAD_DAYS = 7
OVERDUE_AFTER_DAYS = 3

SCHEDULE_KEYS = ("start", "dose_changes", "interruptions", "stop", "until")
# The `schedule` command's keys that may be left out: no extra samples needs no `extra`.
OPTIONAL_SCHEDULE_KEYS = ("extra",)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

SampleId = TypeVar("SampleId", bound=Hashable)


@dataclass(frozen=True)
class Interruption:
    """A stretch without the drug: `first_day` is off treatment, `resumes_on` is back on it.

    The interrupted days are `first_day` up to the day before `resumes_on`; `resumes_on` None means
    the treatment is still interrupted.
    """

    first_day: dt.date
    resumes_on: dt.date | None

    def covers(self, day: dt.date) -> bool:
        return self.first_day <= day and (self.resumes_on is None or day < self.resumes_on)


@dataclass(frozen=True)
class ScheduleRequest:
    """Everything a schedule depends on; the fields mirror the `schedule` command's JSON keys.

    Construction checks that the dates fit together and raises `InputError` naming the JSON path
    of the offending value, so every request that exists can be scheduled. Dose changes,
    interruptions and extra dates keep the caller's order, so that those paths point at what the
    caller sent. An extra date may lie anywhere from the start on: one that falls while the
    treatment is interrupted or stopped is not refused but is not due (the interruption may have
    been decided after the sample was asked for).
    """

    start: dt.date
    dose_changes: tuple[dt.date, ...]
    interruptions: tuple[Interruption, ...]
    stop: dt.date | None
    until: dt.date
    extra: tuple[dt.date, ...] = ()

    def __post_init__(self) -> None:
        if self.until < self.start:
            raise InputError("until", "must not be before start")
        if self.stop is not None and self.stop < self.start:
            raise InputError("stop", "must not be before start")
        self._check_interruptions()
        self._check_dose_changes()
        for index, day in enumerate(self.extra):
            if day < self.start:
                raise InputError(f"extra[{index}]", "must not be before start")

    def _check_interruptions(self) -> None:
        for index, interruption in enumerate(self.interruptions):
            # The start is the first day on the drug; an interruption then means the start is wrong.
            if interruption.first_day <= self.start:
                raise InputError(f"interruptions[{index}][0]", "must be after start")
            resumes_on = interruption.resumes_on
            if resumes_on is not None and resumes_on <= interruption.first_day:
                raise InputError(f"interruptions[{index}][1]", "must be after the first day")
        by_first_day = sorted(enumerate(self.interruptions), key=lambda item: item[1].first_day)
        for (earlier_index, earlier), (index, later) in pairwise(by_first_day):
            if earlier.resumes_on is None:
                raise InputError(
                    f"interruptions[{index}][0]",
                    f"interruptions[{earlier_index}] has not resumed, so none can follow it",
                )
            # Back on the drug for at least one day, or there is no resume to schedule from.
            if later.first_day <= earlier.resumes_on:
                raise InputError(
                    f"interruptions[{index}][0]",
                    f"must be after {earlier.resumes_on}, when interruptions[{earlier_index}]"
                    " resumes",
                )

    def _check_dose_changes(self) -> None:
        for index, change in enumerate(self.dose_changes):
            if change <= self.start:
                raise InputError(f"dose_changes[{index}]", "must be after start")
            for interruption_index, interruption in enumerate(self.interruptions):
                # A new dose while off the drug contradicts the interruption; a new dose on the
                # resume day is the resume itself and is fine.
                if interruption.covers(change):
                    raise InputError(
                        f"dose_changes[{index}]",
                        f"falls inside interruptions[{interruption_index}]",
                    )


@dataclass(frozen=True)
class DueDate:
    """A day on which a sample is due, and why."""

    date: dt.date
    kind: DueKind


@dataclass(frozen=True)
class Reminder:
    """A reminder to send about one due date; at most one per (treatment, date, kind) is sent."""

    due_date: dt.date
    kind: ReminderKind


def compute_due_dates(request: ScheduleRequest) -> tuple[DueDate, ...]:
    """The due dates up to and including `request.until`, in date order, one per day."""
    on_treatment = _on_treatment_test(request)
    post_change = _kept_post_change_dates(request, on_treatment)
    regular = [
        day
        for day in _regular_dates(request.start, request.until)
        if on_treatment(day) and not _near_any(day, post_change)
    ]
    due = [DueDate(day, "regular") for day in regular]
    due += [DueDate(day, "post_change") for day in post_change if day <= request.until]
    taken = {entry.date for entry in due}
    due += [
        DueDate(day, "extra")
        for day in set(request.extra)
        if day <= request.until and day not in taken and on_treatment(day)
    ]
    return tuple(sorted(due, key=lambda entry: entry.date))


def _on_treatment_test(request: ScheduleRequest) -> Callable[[dt.date], bool]:
    """A test for "on the drug this day"; bisects so that long schedules stay fast."""
    interruptions = sorted(request.interruptions, key=lambda interruption: interruption.first_day)
    first_days = [interruption.first_day for interruption in interruptions]

    def on_treatment(day: dt.date) -> bool:
        if request.stop is not None and day >= request.stop:
            return False
        # Interruptions never overlap (ScheduleRequest checks it), so only the latest one that
        # began on or before `day` can cover it.
        latest = bisect_right(first_days, day) - 1
        return latest < 0 or not interruptions[latest].covers(day)

    return on_treatment


def _regular_dates(start: dt.date, until: dt.date) -> list[dt.date]:
    offsets = chain(
        FIRST_REGULAR_OFFSETS,
        (FIRST_REGULAR_OFFSETS[-1] + REGULAR_INTERVAL * n for n in count(1)),
    )
    return [start + offset for offset in takewhile(lambda offset: offset <= until - start, offsets)]


def _kept_post_change_dates(
    request: ScheduleRequest, on_treatment: Callable[[dt.date], bool]
) -> list[dt.date]:
    """Rules 1 and 2 of the module docstring; the result is sorted and may reach past `until`.

    Dates after `until` are kept here because they still supersede and replace dates up to it.
    """
    changes = set(request.dose_changes)
    changes.update(
        interruption.resumes_on
        for interruption in request.interruptions
        if interruption.resumes_on is not None
    )
    candidates: set[dt.date] = set()
    for change in changes:
        try:
            day = change + POST_CHANGE_DELAY
        except OverflowError:
            # Past the last day the calendar holds, so after any `until` there can be.
            continue
        if on_treatment(day):
            candidates.add(day)
    ordered = sorted(candidates)
    superseded = {
        earlier
        for earlier, later in pairwise(ordered)
        if (later - earlier).days <= REPLACEMENT_WINDOW_DAYS
    }
    return [day for day in ordered if day not in superseded]


def _near_any(day: dt.date, sorted_days: Sequence[dt.date]) -> bool:
    after = bisect_left(sorted_days, day)
    neighbours = sorted_days[max(after - 1, 0) : after + 1]
    return any(abs((other - day).days) <= REPLACEMENT_WINDOW_DAYS for other in neighbours)


def request_from_doses(
    doses: Sequence[tuple[dt.date, Decimal]],
    *,
    stop: dt.date | None,
    until: dt.date,
    extra: Iterable[dt.date] = (),
) -> ScheduleRequest:
    """The schedule inputs of a dose history: (effective from, daily dose in mg), oldest first,
    and the days of the extra samples asked for.

    The first regimen is the start. Every later regimen with a daily dose above 0 is a dose change
    (docs/sampling-schedule.md §2: every regimen after the first with a daily dose above 0 mg; a
    new split of the same daily dose changes the concentration profile too), except that after a
    0 mg regimen it is the resume that ends the interruption. Consecutive 0 mg regimens are one
    interruption. Regimens on or after the stop date are left out: nothing is due from the stop
    date on, so they cannot make anything due.
    Errors name the cohort file's paths (`doses[2].from`, `doses[2].daily_dose_mg`).
    """
    if not doses:
        raise InputError("doses", "must hold at least the starting regimen")
    for index, (effective_from, daily_dose_mg) in enumerate(doses):
        if daily_dose_mg < 0:
            raise InputError(f"doses[{index}].daily_dose_mg", "must not be negative")
        if index and effective_from <= doses[index - 1][0]:
            raise InputError(f"doses[{index}].from", "must be after the previous regimen's date")
    start, starting_dose_mg = doses[0]
    if starting_dose_mg == 0:
        raise InputError("doses[0].daily_dose_mg", "the starting regimen must be above 0 mg")

    dose_changes: list[dt.date] = []
    interruptions: list[Interruption] = []
    interrupted_since: dt.date | None = None
    for effective_from, daily_dose_mg in doses[1:]:
        if stop is not None and effective_from >= stop:
            break
        if daily_dose_mg == 0:
            if interrupted_since is None:
                interrupted_since = effective_from
        elif interrupted_since is not None:
            interruptions.append(Interruption(interrupted_since, effective_from))
            interrupted_since = None
        else:
            dose_changes.append(effective_from)
    if interrupted_since is not None:
        interruptions.append(Interruption(interrupted_since, None))
    return ScheduleRequest(
        start=start,
        dose_changes=tuple(dose_changes),
        interruptions=tuple(interruptions),
        stop=stop,
        until=until,
        extra=tuple(extra),
    )


def match_samples(
    due_dates: Iterable[DueDate], samples: Iterable[tuple[SampleId, dt.date]]
) -> dict[dt.date, SampleId]:
    """Which sample fulfils which due date: {due date: sample id} for the fulfilled ones.

    `samples` are (id, draw date) of drawn samples. A sample fulfils a due date it was drawn at
    most 7 days before or after. Each due date takes its nearest sample, the earlier on a tie
    (on the same day the one listed first, so list them as recorded), and a sample fulfils one
    due date only. The protocol's dates are at least 15 days apart, so their windows compete only
    when an extra date lies near one of them; then the closest pair is matched first and a tie
    goes to the earlier due date.
    """
    sample_list = list(samples)
    candidates = sorted(
        (abs((drawn_on - due.date).days), drawn_on, due.date, position)
        for due in due_dates
        for position, (_, drawn_on) in enumerate(sample_list)
        if abs((drawn_on - due.date).days) <= FULFILMENT_WINDOW_DAYS
    )
    fulfilled_by: dict[dt.date, SampleId] = {}
    used_positions: set[int] = set()
    for _, _, due_date, position in candidates:
        if due_date in fulfilled_by or position in used_positions:
            continue
        fulfilled_by[due_date] = sample_list[position][0]
        used_positions.add(position)
    return fulfilled_by


def reminders_to_send(
    due_dates: Iterable[DueDate],
    fulfilled: Container[dt.date],
    *,
    today: dt.date,
    sent: Set[tuple[dt.date, str]],
    registered_on: dt.date,
) -> tuple[Reminder, ...]:
    """The reminders the daily job sends `today`, oldest due date first.

    `due_dates` is the treatment's current schedule, so a date no longer due (on or after the
    stop date, inside an interruption) gets nothing; `fulfilled` holds the fulfilled due dates
    (the result of `match_samples` will do); `sent` the (due date, kind) pairs already sent.
    `upcoming` is sent 7 days before the due date, or on a later day up to the due date itself
    when the job did not run that day; not for a due date an early sample already fulfilled.
    `overdue` is sent from 3 days after the due date on while it is unfulfilled, however late the
    job runs. Neither is ever sent twice. A due date before `registered_on`, the day the
    treatment was entered in eTDM, gets none: it was missed before anyone could be reminded.
    A missed date stays overdue after the treatment stops or is interrupted, so the caller asks
    only for treatments on the drug today: a sample drawn off the drug says nothing about the
    dose.
    """
    reminders: list[Reminder] = []
    for due in sorted(due_dates, key=lambda entry: entry.date):
        if due.date in fulfilled or due.date < registered_on:
            continue
        days_to_go = (due.date - today).days
        if 0 <= days_to_go <= UPCOMING_LEAD_DAYS and (due.date, "upcoming") not in sent:
            reminders.append(Reminder(due.date, "upcoming"))
        if -days_to_go >= OVERDUE_AFTER_DAYS and (due.date, "overdue") not in sent:
            reminders.append(Reminder(due.date, "overdue"))
    return tuple(reminders)


def still_overdue(
    due_dates: Sequence[DueDate], sample_days: Iterable[dt.date], *, today: dt.date
) -> DueDate | None:
    """The due date a nurse still has to act on, if any: the most recent one before today, with
    no sample drawn since its window opened (7 days before it). `due_dates` in date order.

    An older missed date was overtaken by a later one. A sample drawn after the window closed
    does not fulfil the date, but it measured the dose all the same, so it clears the date.
    """
    past = [entry for entry in due_dates if entry.date < today]
    if not past:
        return None
    window_opens = past[-1].date - dt.timedelta(days=FULFILMENT_WINDOW_DAYS)
    if any(day >= window_opens for day in sample_days):
        return None
    return past[-1]


def open_due_dates(
    due_dates: Sequence[DueDate],
    fulfilled: Container[dt.date],
    sample_days: Iterable[dt.date],
    *,
    today: dt.date,
) -> tuple[DueDate | None, tuple[DueDate, ...]]:
    """What is open for the nurse today: the date still overdue (`still_overdue`), and the
    unfulfilled due dates from today on. `due_dates` in date order, `fulfilled` as for
    `reminders_to_send`, `sample_days` the draw days of the drawn samples."""
    coming = tuple(
        entry for entry in due_dates if entry.date >= today and entry.date not in fulfilled
    )
    return still_overdue(due_dates, sample_days, today=today), coming


def parse_schedule_request(data: object) -> ScheduleRequest:
    """The `schedule` command's input (docs/sampling-schedule.md §11): every key required but
    `extra`, no other key allowed.

    An unknown key is refused rather than ignored: a misspelt `interruptions` would otherwise
    silently schedule samples in the middle of an interruption. The root itself is path `$`.
    """
    if not isinstance(data, Mapping):
        raise InputError("$", "must be a JSON object")
    known = SCHEDULE_KEYS + OPTIONAL_SCHEDULE_KEYS
    for key in data:
        if key not in known:
            raise InputError(str(key), f"unknown key (expected {', '.join(known)})")
    for key in SCHEDULE_KEYS:
        if key not in data:
            raise InputError(key, "is required")
    return ScheduleRequest(
        start=_parse_date(data["start"], "start"),
        dose_changes=tuple(
            _parse_date(value, f"dose_changes[{index}]")
            for index, value in enumerate(_parse_list(data["dose_changes"], "dose_changes"))
        ),
        interruptions=tuple(
            _parse_interruption(value, f"interruptions[{index}]")
            for index, value in enumerate(_parse_list(data["interruptions"], "interruptions"))
        ),
        stop=None if data["stop"] is None else _parse_date(data["stop"], "stop"),
        until=_parse_date(data["until"], "until"),
        extra=tuple(
            _parse_date(value, f"extra[{index}]")
            for index, value in enumerate(_parse_list(data.get("extra", []), "extra"))
        ),
    )


def _parse_list(value: object, field: str) -> list[object]:
    if not isinstance(value, list):
        raise InputError(field, "must be a list")
    return value


def _parse_interruption(value: object, field: str) -> Interruption:
    if not isinstance(value, list) or len(value) != 2:
        raise InputError(field, 'must be a pair ["from", "to" or null]')
    first_day, resumes_on = value
    return Interruption(
        first_day=_parse_date(first_day, f"{field}[0]"),
        resumes_on=None if resumes_on is None else _parse_date(resumes_on, f"{field}[1]"),
    )


def _parse_date(value: object, field: str) -> dt.date:
    # fromisoformat alone would also take "20240101" and week dates; the contract is YYYY-MM-DD.
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise InputError(field, "must be a date as YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(field, f"{value} is not a calendar date") from None


def schedule_to_json(due_dates: Iterable[DueDate]) -> dict[str, list[dict[str, str]]]:
    """The `schedule` command's output (docs/sampling-schedule.md §11), in date order."""
    return {
        "due": [
            {"date": due.date.isoformat(), "kind": due.kind}
            for due in sorted(due_dates, key=lambda entry: entry.date)
        ]
    }
