"""Invariants of the sampling schedule (docs/sampling-schedule.md) over generated treatments,
extra dates (§12) and registration days (§9) included."""

import datetime as dt
from dataclasses import replace
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
    # Extra dates anywhere from the start on: near other dates, inside interruptions, after the
    # stop date or `until`.
    extra = [
        start + DAY * offset
        for offset in draw(
            st.lists(st.integers(min_value=0, max_value=horizon_days + 120), max_size=6)
        )
    ]
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
        extra=tuple(extra),
    )


def without_extra(request: ScheduleRequest) -> ScheduleRequest:
    return replace(request, extra=())


def on_treatment(request: ScheduleRequest, day: dt.date) -> bool:
    stopped = request.stop is not None and day >= request.stop
    return not stopped and not any(i.covers(day) for i in request.interruptions)


def changes_and_resumes(request: ScheduleRequest) -> set[dt.date]:
    resumes = {i.resumes_on for i in request.interruptions if i.resumes_on is not None}
    return set(request.dose_changes) | resumes


def dates_of(due: tuple[DueDate, ...], kind: str) -> list[dt.date]:
    return [entry.date for entry in due if entry.kind == kind]


@given(schedule_requests())
def test_sorted_one_per_day_and_the_protocols_dates_at_least_15_days_apart(
    request: ScheduleRequest,
) -> None:
    due = compute_due_dates(request)
    dates = [entry.date for entry in due]
    assert dates == sorted(set(dates))
    # No sample can then fall in the ±7 day windows of two protocol dates; only an extra date
    # may lie closer to another.
    protocol = [entry.date for entry in due if entry.kind != "extra"]
    assert all((later - earlier).days >= 15 for earlier, later in pairwise(protocol))


@given(schedule_requests())
def test_never_due_inside_an_interruption_or_from_the_stop_date_on(
    request: ScheduleRequest,
) -> None:
    for entry in compute_due_dates(request):
        assert not any(i.covers(entry.date) for i in request.interruptions), entry
        assert request.stop is None or entry.date < request.stop, entry


@given(schedule_requests())
def test_only_days_from_the_start_up_to_until(request: ScheduleRequest) -> None:
    for entry in compute_due_dates(request):
        first = request.start if entry.kind == "extra" else request.start + 28 * DAY
        assert first <= entry.date <= request.until


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
    for extra in dates_of(due, "extra"):
        assert extra in request.extra


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
    dates = {entry.date for entry in due}
    for extra in request.extra:
        if extra <= request.until and on_treatment(request, extra):
            # Never dropped by the 14-day rule: a sample is due that day, of whatever kind.
            assert extra in dates


@given(schedule_requests())
def test_extra_dates_replace_nothing(request: ScheduleRequest) -> None:
    due = compute_due_dates(request)
    assert compute_due_dates(without_extra(request)) == tuple(
        entry for entry in due if entry.kind != "extra"
    )


@given(schedule_requests(), st.integers(min_value=0, max_value=400))
def test_a_later_until_only_appends(request: ScheduleRequest, extra_days: int) -> None:
    longer = replace(request, until=request.until + extra_days * DAY)
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
    fulfils = {sample: due_date for due_date, sample in fulfilled_by.items()}

    def distance(sample: int, due_date: dt.date) -> int:
        return abs((drawn_on[sample] - due_date).days)

    for entry in due:
        in_window = [index for index, _ in samples if distance(index, entry.date) <= 7]
        if entry.date not in fulfilled_by:
            # Left open only when every sample of its window counts for another due date.
            assert all(index in fulfils for index in in_window)
            continue
        taken = distance(fulfilled_by[entry.date], entry.date)
        assert taken <= 7
        for index in in_window:
            if distance(index, entry.date) < taken:
                # A nearer sample went to a due date at least as near to it.
                assert index in fulfils
                assert distance(index, fulfils[index]) <= distance(index, entry.date)


@given(schedule_requests(), st.lists(st.integers(min_value=0, max_value=6 * 365), max_size=30))
def test_without_extra_dates_each_date_takes_its_nearest_sample(
    request: ScheduleRequest, draw_offsets: list[int]
) -> None:
    due = compute_due_dates(without_extra(request))
    samples = [(index, request.start + offset * DAY) for index, offset in enumerate(draw_offsets)]
    fulfilled_by = match_samples(due, samples)
    drawn_on = dict(samples)
    for entry in due:
        in_window = [d for _, d in samples if abs((d - entry.date).days) <= 7]
        if not in_window:
            assert entry.date not in fulfilled_by
            continue
        nearest = min(abs((d - entry.date).days) for d in in_window)
        assert abs((drawn_on[fulfilled_by[entry.date]] - entry.date).days) == nearest


@given(
    schedule_requests(),
    st.sets(st.integers(min_value=0, max_value=6 * 365 + 30)),
    st.integers(min_value=0, max_value=2 * 365),
    st.data(),
)
def test_a_job_running_on_any_days_never_sends_twice(
    request: ScheduleRequest, run_offsets: set[int], registered_offset: int, data: st.DataObject
) -> None:
    due = compute_due_dates(request)
    fulfilled = data.draw(st.sets(st.sampled_from([e.date for e in due]))) if due else set()
    registered_on = request.start + registered_offset * DAY
    run_days = sorted(request.start + offset * DAY for offset in run_offsets)
    sent: set[tuple[dt.date, str]] = set()
    sent_on: dict[tuple[dt.date, str], dt.date] = {}
    for today in run_days:
        for reminder in reminders_to_send(
            due, fulfilled, today=today, sent=sent, registered_on=registered_on
        ):
            key = (reminder.due_date, reminder.kind)
            assert key not in sent
            sent.add(key)
            sent_on[key] = today
    for entry in due:
        if entry.date in fulfilled or entry.date < registered_on:
            # Fulfilled, or missed before the treatment was entered in eTDM: never reminded.
            assert (entry.date, "upcoming") not in sent
            assert (entry.date, "overdue") not in sent
            continue
        upcoming_days = [d for d in run_days if 0 <= (entry.date - d).days <= 7]
        overdue_days = [d for d in run_days if (d - entry.date).days >= 3]
        assert sent_on.get((entry.date, "upcoming")) == min(upcoming_days, default=None)
        assert sent_on.get((entry.date, "overdue")) == min(overdue_days, default=None)
