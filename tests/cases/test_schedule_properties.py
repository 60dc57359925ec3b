"""Invariants of the sampling schedule (docs/sampling-schedule.md) over generated treatments."""

import datetime as dt
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from cases.schedule import (
    DueDate,
    Interruption,
    ScheduleRequest,
    compute_due_dates,
    match_samples,
    reminders_to_send,
)

DAY = dt.timedelta(days=1)
REGULAR_OFFSETS_DAYS = {28, 56, 84} | {84 + 84 * n for n in range(1, 40)}


@st.composite
def schedule_requests(draw: st.DrawFn) -> ScheduleRequest:
    start = draw(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2030, 12, 31)))
    horizon_days = draw(st.integers(min_value=0, max_value=6 * 365))
    interruptions: list[Interruption] = []
    back_on_drug = start
    count = draw(st.integers(min_value=0, max_value=4))
    for index in range(count):
        first_day = back_on_drug + DAY * draw(st.integers(min_value=1, max_value=300))
        if index == count - 1 and draw(st.booleans()):
            interruptions.append(Interruption(first_day, None))
            break
        back_on_drug = first_day + DAY * draw(st.integers(min_value=1, max_value=90))
        interruptions.append(Interruption(first_day, back_on_drug))
    changes = [
        start + DAY * offset
        for offset in draw(
            st.lists(st.integers(min_value=1, max_value=horizon_days + 120), max_size=8)
        )
    ]
    stop_offset = draw(st.none() | st.integers(min_value=0, max_value=horizon_days + 120))
    return ScheduleRequest(
        start=start,
        dose_changes=tuple(
            change
            for change in changes
            if not any(interruption.covers(change) for interruption in interruptions)
        ),
        interruptions=tuple(draw(st.permutations(interruptions))),
        stop=None if stop_offset is None else start + DAY * stop_offset,
        until=start + DAY * horizon_days,
    )


def on_treatment(request: ScheduleRequest, day: dt.date) -> bool:
    stopped = request.stop is not None and day >= request.stop
    return not stopped and not any(i.covers(day) for i in request.interruptions)


def changes_and_resumes(request: ScheduleRequest) -> set[dt.date]:
    resumes = {i.resumes_on for i in request.interruptions if i.resumes_on is not None}
    return set(request.dose_changes) | resumes


def dates_of(due: tuple[DueDate, ...], kind: str) -> list[dt.date]:
    return [entry.date for entry in due if entry.kind == kind]


@given(schedule_requests())
def test_sorted_unique_and_at_least_15_days_apart(request: ScheduleRequest) -> None:
    dates = [entry.date for entry in compute_due_dates(request)]
    assert dates == sorted(set(dates))
    # No sample can then fall in the ±7 day windows of two due dates.
    assert all((later - earlier).days >= 15 for earlier, later in pairwise(dates))


@given(schedule_requests())
def test_only_days_on_treatment_up_to_until(request: ScheduleRequest) -> None:
    for entry in compute_due_dates(request):
        assert request.start + 28 * DAY <= entry.date <= request.until
        assert request.stop is None or entry.date < request.stop
        assert not any(i.covers(entry.date) for i in request.interruptions)


@given(schedule_requests())
def test_no_regular_date_within_14_days_of_a_post_change_date(request: ScheduleRequest) -> None:
    due = compute_due_dates(request)
    for regular in dates_of(due, "regular"):
        for post_change in dates_of(due, "post_change"):
            assert abs((regular - post_change).days) > 14


@given(schedule_requests())
def test_every_date_has_its_reason(request: ScheduleRequest) -> None:
    due = compute_due_dates(request)
    changes = changes_and_resumes(request)
    for regular in dates_of(due, "regular"):
        assert (regular - request.start).days in REGULAR_OFFSETS_DAYS
    for post_change in dates_of(due, "post_change"):
        assert post_change - 28 * DAY in changes


@given(schedule_requests())
def test_nothing_due_is_lost(request: ScheduleRequest) -> None:
    due = compute_due_dates(request)
    candidates = {
        change + 28 * DAY
        for change in changes_and_resumes(request)
        if on_treatment(request, change + 28 * DAY)
    }
    if candidates and max(candidates) <= request.until:
        # The newest change has nothing later to supersede its sample.
        assert DueDate(max(candidates), "post_change") in due
    for offset in REGULAR_OFFSETS_DAYS:
        regular = request.start + offset * DAY
        far_from_changes = all(abs((regular - other).days) > 14 for other in candidates)
        if regular <= request.until and on_treatment(request, regular) and far_from_changes:
            assert DueDate(regular, "regular") in due


@given(schedule_requests(), st.integers(min_value=0, max_value=400))
def test_a_later_until_only_appends(request: ScheduleRequest, extra_days: int) -> None:
    longer = ScheduleRequest(
        start=request.start,
        dose_changes=request.dose_changes,
        interruptions=request.interruptions,
        stop=request.stop,
        until=request.until + extra_days * DAY,
    )
    extended = compute_due_dates(longer)
    assert compute_due_dates(request) == tuple(e for e in extended if e.date <= request.until)


@given(
    schedule_requests(),
    st.lists(st.integers(min_value=0, max_value=6 * 365 + 30), max_size=30),
)
def test_samples_fulfil_the_nearest_due_date_once(
    request: ScheduleRequest, draw_offsets: list[int]
) -> None:
    due = compute_due_dates(request)
    samples = [(index, request.start + offset * DAY) for index, offset in enumerate(draw_offsets)]
    fulfilled_by = match_samples(due, samples)
    assert len(set(fulfilled_by.values())) == len(fulfilled_by)
    drawn_on = dict(samples)
    for entry in due:
        distances = [abs((drawn - entry.date).days) for _, drawn in samples]
        in_window = [distance for distance in distances if distance <= 7]
        if not in_window:
            assert entry.date not in fulfilled_by
            continue
        assert abs((drawn_on[fulfilled_by[entry.date]] - entry.date).days) == min(in_window)


@given(
    schedule_requests(),
    st.sets(st.integers(min_value=0, max_value=6 * 365 + 30)),
    st.data(),
)
def test_a_job_running_on_any_days_never_sends_twice(
    request: ScheduleRequest, run_offsets: set[int], data: st.DataObject
) -> None:
    due = compute_due_dates(request)
    fulfilled = data.draw(st.sets(st.sampled_from([e.date for e in due]))) if due else set()
    run_days = sorted(request.start + offset * DAY for offset in run_offsets)
    sent: set[tuple[dt.date, str]] = set()
    sent_on: dict[tuple[dt.date, str], dt.date] = {}
    for today in run_days:
        for reminder in reminders_to_send(due, fulfilled, today=today, sent=sent):
            key = (reminder.due_date, reminder.kind)
            assert key not in sent
            sent.add(key)
            sent_on[key] = today
    for entry in due:
        if entry.date in fulfilled:
            assert (entry.date, "upcoming") not in sent
            assert (entry.date, "overdue") not in sent
            continue
        upcoming_days = [d for d in run_days if 0 <= (entry.date - d).days <= 7]
        overdue_days = [d for d in run_days if (d - entry.date).days >= 3]
        assert sent_on.get((entry.date, "upcoming")) == min(upcoming_days, default=None)
        assert sent_on.get((entry.date, "overdue")) == min(overdue_days, default=None)
