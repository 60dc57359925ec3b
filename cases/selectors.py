"""Reads the pages share: a treatment's due dates and the nurses' worklist.

Each starts from `visible_to(user)`, so another site's records never reach a page.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.models import Prefetch, Q
from django.utils import timezone

from cases import access, clinical, schedule
from cases.models import DoseRegimen, Sample, Treatment


def schedule_rows(
    treatment: Treatment, samples: list[Sample], *, today: datetime.date
) -> list[dict[str, object]]:
    """The treatment's due dates (docs/sampling-schedule.md), each with what it means today for
    the nurse: `fulfilled`, `due`, `overdue` (the one to act on now) or `missed` (overtaken by a
    later one)."""
    window = datetime.timedelta(days=schedule.FULFILMENT_WINDOW_DAYS)
    due = clinical.treatment_schedule(treatment)
    overdue = still_overdue(
        [schedule.DueDate(row["date"], row["kind"]) for row in due],
        [
            timezone.localdate(sample.drawn_at)
            for sample in samples
            if sample.status in (Sample.Status.DRAWN, Sample.Status.RESULTED)
        ],
        today=today,
    )
    rows = []
    for row in due:
        if row["fulfilled_by"] is not None:
            state = "fulfilled"
        elif row["date"] >= today:
            state = "due"
        elif overdue is not None and row["date"] == overdue.date:
            state = "overdue"
        else:
            state = "missed"
        rows.append(
            {
                **row,
                "state": state,
                "counts_from": row["date"] - window,
                "counts_until": row["date"] + window,
            }
        )
    return rows


DUE_SOON_DAYS = schedule.UPCOMING_LEAD_DAYS


DRAWN_LIMIT = 200


COUNTED = (Sample.Status.DRAWN, Sample.Status.RESULTED)


@dataclass(frozen=True)
class DueRow:
    """A treatment whose sample is due on `due_date` and not drawn yet."""

    treatment: Treatment
    due_date: datetime.date
    kind: str
    identity: bool
    today: datetime.date

    @property
    def days_from_today(self) -> int:
        return (self.due_date - self.today).days

    @property
    def days_overdue(self) -> int:
        return -self.days_from_today

    @property
    def counts_until(self) -> datetime.date:
        """The last day a sample still fulfils this due date (docs/sampling-schedule.md §8:
        ±7 days)."""
        return self.due_date + datetime.timedelta(days=schedule.FULFILMENT_WINDOW_DAYS)


@dataclass(frozen=True)
class AwaitingRow:
    """A sample drawn and sent to the lab, its result not entered yet."""

    sample: Sample
    identity: bool
    today: datetime.date

    @property
    def days_waiting(self) -> int:
        return (self.today - timezone.localdate(self.sample.drawn_at)).days


@dataclass(frozen=True)
class Worklist:
    overdue: list[DueRow]
    due_soon: list[DueRow]
    awaiting_result: list[AwaitingRow]


def _treatments(user, *, site=None, drug_name: str = ""):
    today = timezone.localdate()
    treatments = (
        Treatment.objects.visible_to(user)
        .filter(Q(stop_date__isnull=True) | Q(stop_date__gt=today))
        .select_related("patient__site", "drug")
        .prefetch_related(
            Prefetch("regimens", queryset=DoseRegimen.objects.order_by("effective_from")),
            Prefetch(
                "samples",
                queryset=Sample.objects.filter(status__in=COUNTED).order_by("drawn_at", "pk"),
                to_attr="counted_samples",
            ),
        )
    )
    if site is not None:
        treatments = treatments.filter(patient__site=site)
    if drug_name:
        treatments = treatments.filter(drug__name=drug_name)
    return treatments


def still_overdue(
    due: Sequence[schedule.DueDate], sample_days: Iterable[datetime.date], *, today: datetime.date
) -> schedule.DueDate | None:
    """The due date a nurse still has to act on, if any: the most recent one before today, with
    no sample drawn since its window opened (docs/sampling-schedule.md §8: ±7 days).

    An older missed date was overtaken by a later one. A sample drawn after the window closed
    does not fulfil the date, but it measured the dose all the same, so it clears the date.
    """
    past = [entry for entry in due if entry.date < today]
    if not past:
        return None
    window_opens = past[-1].date - datetime.timedelta(days=schedule.FULFILMENT_WINDOW_DAYS)
    if any(day >= window_opens for day in sample_days):
        return None
    return past[-1]


def due_rows(treatment: Treatment, *, today: datetime.date, identity: bool):
    """(the overdue date or None, the unfulfilled due dates of the coming week) of a treatment."""
    if treatment.status_on(today) != Treatment.Status.ACTIVE:
        # Reminders skip treatments off the drug today: a sample then says nothing of the dose.
        return None, []
    due = clinical.due_dates(treatment, until=today + datetime.timedelta(days=DUE_SOON_DAYS))
    drawn = [
        (sample.pk, timezone.localdate(sample.drawn_at)) for sample in treatment.counted_samples
    ]
    fulfilled = schedule.match_samples(due, drawn)

    def row(entry: schedule.DueDate) -> DueRow:
        return DueRow(treatment, entry.date, entry.kind, identity, today)

    overdue = still_overdue(due, [day for _, day in drawn], today=today)
    soon = [row(entry) for entry in due if entry.date >= today and entry.date not in fulfilled]
    return (row(overdue) if overdue else None), soon


def build_worklist(user, *, site=None, drug_name: str = "") -> Worklist:
    today = timezone.localdate()
    overdue: list[DueRow] = []
    due_soon: list[DueRow] = []
    for treatment in _treatments(user, site=site, drug_name=drug_name):
        missed, soon = due_rows(
            treatment, today=today, identity=access.sees_identity(user, treatment.patient)
        )
        if missed is not None:
            overdue.append(missed)
        due_soon.extend(soon)
    awaiting = (
        Sample.objects.visible_to(user)
        .filter(status=Sample.Status.DRAWN)
        .select_related("treatment__patient__site", "treatment__drug")
        .order_by("drawn_at")
    )
    if site is not None:
        awaiting = awaiting.filter(treatment__patient__site=site)
    if drug_name:
        awaiting = awaiting.filter(treatment__drug__name=drug_name)
    return Worklist(
        overdue=sorted(overdue, key=lambda r: (r.due_date, r.treatment.patient.study_number)),
        due_soon=sorted(due_soon, key=lambda r: (r.due_date, r.treatment.patient.study_number)),
        awaiting_result=[
            AwaitingRow(sample, access.sees_identity(user, sample.treatment.patient), today)
            for sample in awaiting[:DRAWN_LIMIT]
        ],
    )
