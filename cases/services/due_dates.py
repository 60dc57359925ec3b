"""The stored due dates (docs/sampling-schedule.md §13): each treatment's schedule and which
sample fulfils each date, copied into `DueDate` rows so that the reminder scan and the worklist
are SQL queries.

The rows are a cache of the pure schedule (`cases.clinical.due_dates`, `cases.schedule.
match_samples`) up to the treatment's horizon: the writes that change the schedule or its
samples call `due_dates_refresh` in their own transaction; `due_dates_extend` moves the horizon
on with the calendar (the daily reminder task runs it); `due_dates_rebuild` rewrites them all.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence

from django.db import transaction
from django.db.models import F, Prefetch, Q
from django.utils import timezone

from cases import clinical, schedule
from cases.models import DoseRegimen, DueDate, DueDateHorizon, ExtraDueDate, Sample, Treatment

# Dates are stored this far ahead of the day they are written: two years, so that the schedule
# page's year ahead (clinical.SCHEDULE_HORIZON_DAYS) is always stored too ...
HORIZON = datetime.timedelta(days=730)
# ... and a treatment nobody wrote to for a year is extended by the daily task: once its stored
# dates end less than this far ahead, they are stored up to HORIZON ahead again.
EXTEND_BELOW = datetime.timedelta(days=clinical.SCHEDULE_HORIZON_DAYS)
BATCH_SIZE = 500
COUNTED = (Sample.Status.DRAWN, Sample.Status.RESULTED)


def _with_schedule_inputs(treatments):
    """What computing the schedule of many treatments reads, in four queries per batch."""
    return treatments.prefetch_related(
        Prefetch("regimens", queryset=DoseRegimen.objects.order_by("effective_from")),
        Prefetch("extra_due_dates", queryset=ExtraDueDate.objects.order_by("date")),
        Prefetch(
            "samples",
            queryset=Sample.objects.filter(status__in=COUNTED).order_by("drawn_at", "pk"),
            to_attr="counted_samples",
        ),
    )


def stored_schedule(treatment: Treatment, *, until: datetime.date) -> list[DueDate]:
    """The rows the treatment's due dates up to `until` are stored as (unsaved), from the pure
    schedule; `treatment` with `regimens`, `extra_due_dates` and `counted_samples` prefetched."""
    due = clinical.due_dates(treatment, until=until)
    fulfilled_by = schedule.match_samples(
        due,
        [(sample.pk, timezone.localdate(sample.drawn_at)) for sample in treatment.counted_samples],
    )
    window = datetime.timedelta(days=schedule.FULFILMENT_WINDOW_DAYS)
    # Each date's next one; the last has none stored (and `zip` stops at the shorter).
    next_days: list[datetime.date | None] = [*(entry.date for entry in due[1:]), None]
    return [
        DueDate(
            treatment_id=treatment.pk,
            date=entry.date,
            kind=entry.kind,
            window_opens=entry.date - window,
            fulfilled_by_id=fulfilled_by.get(entry.date),
            current_until=current_until(next_day, treatment.stop_date),
        )
        for entry, next_day in zip(due, next_days, strict=False)
    ]


def current_until(
    next_day: datetime.date | None, stop_date: datetime.date | None
) -> datetime.date | None:
    """`DueDate.current_until` of a date followed by `next_day` (None: none stored) in a
    treatment stopped on `stop_date` (None: not stopped)."""
    eve = stop_date - datetime.timedelta(days=1) if stop_date is not None else None
    if next_day is None or eve is None:
        return next_day or eve
    return min(next_day, eve)


def horizon_for(treatment: Treatment, *, today: datetime.date) -> datetime.date:
    """The last day stored when the treatment's due dates are written on `today`."""
    return max(today, treatment.start_date) + HORIZON


def _store(treatments: Sequence[Treatment], *, today: datetime.date) -> int:
    """Make the stored rows of `treatments` (prefetched as `_with_schedule_inputs` does) equal
    their schedules up to their new horizons: rows that changed or vanished are deleted, new
    ones inserted, so an unchanged date keeps its row. Returns the rows written."""
    if not treatments:
        return 0
    ids = [treatment.pk for treatment in treatments]
    horizons = {treatment.pk: horizon_for(treatment, today=today) for treatment in treatments}
    wanted = {
        (row.treatment_id, row.date): row
        for treatment in treatments
        for row in stored_schedule(treatment, until=horizons[treatment.pk])
    }
    stale = []
    for pk, treatment_id, date, *stored in DueDate.objects.filter(treatment_id__in=ids).values_list(
        "pk", "treatment_id", "date", "kind", "fulfilled_by_id", "current_until"
    ):
        row = wanted.get((treatment_id, date))
        if row is not None and [row.kind, row.fulfilled_by_id, row.current_until] == stored:
            del wanted[(treatment_id, date)]
        else:
            stale.append(pk)
    # Deleted first: a sample that moves to another date may only fulfil one row at a time.
    if stale:
        DueDate.objects.filter(pk__in=stale).delete()
    DueDate.objects.bulk_create(wanted.values())
    DueDateHorizon.objects.bulk_create(
        [DueDateHorizon(treatment_id=pk, until=until) for pk, until in horizons.items()],
        update_conflicts=True,
        unique_fields=["treatment"],
        update_fields=["until"],
    )
    return len(wanted)


def due_dates_refresh(treatment: Treatment, *, today: datetime.date | None = None) -> None:
    """Store the treatment's due dates again, in the caller's transaction: every write that
    changes its schedule (regimens, stop, extra samples) or its samples calls this last.

    Locks the treatment, so two writes to one treatment store their results one after the other.
    """
    locked = _with_schedule_inputs(Treatment.objects.select_for_update(of=("self",))).get(
        pk=treatment.pk
    )
    _store([locked], today=today or timezone.localdate())


def _refresh_all(
    treatments, *, today: datetime.date, report: Callable[[int], None] | None
) -> dict[str, int]:
    """Store the due dates of `treatments` again, a batch per transaction, each batch's
    treatments locked as a single write would lock them; `report` is told the running count."""
    ids = list(treatments.order_by("pk").values_list("pk", flat=True))
    written = 0
    for first in range(0, len(ids), BATCH_SIZE):
        chunk = ids[first : first + BATCH_SIZE]
        with transaction.atomic():
            batch = list(
                _with_schedule_inputs(
                    Treatment.objects.select_for_update(of=("self",)).filter(pk__in=chunk)
                )
            )
            written += _store(batch, today=today)
        if report is not None:
            report(first + len(chunk))
    return {"treatments": len(ids), "rows_written": written}


def due_dates_extend(
    *, today: datetime.date, report: Callable[[int], None] | None = None
) -> dict[str, int]:
    """Move the stored horizon on with the calendar: the treatments whose stored dates end less
    than a year after `today` and which may still have dates after them (not stopped by then)
    are stored up to two years ahead again, and so are treatments never stored (written without
    the services, e.g. by a bulk load). Each treatment is extended about once a year, so a
    day's run does the work of the treatments written to a year ago, not of the cohort."""
    ending = DueDateHorizon.objects.filter(until__lt=today + EXTEND_BELOW).filter(
        Q(treatment__stop_date__isnull=True) | Q(treatment__stop_date__gt=F("until"))
    )
    return _refresh_all(
        Treatment.objects.filter(
            Q(pk__in=ending.values("treatment_id")) | Q(due_date_horizon__isnull=True)
        ),
        today=today,
        report=report,
    )


def due_dates_rebuild(
    *, today: datetime.date, report: Callable[[int], None] | None = None
) -> dict[str, int]:
    """Store every treatment's due dates again from its records, in batches (the
    `rebuild_due_dates` command; after data was written without the services)."""
    return _refresh_all(Treatment.objects.all(), today=today, report=report)
