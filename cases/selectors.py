"""Reads the pages share: a treatment's due dates and the nurses' worklist.

Each starts from `visible_to(user)`, so another site's records never reach a page.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Prefetch, Q
from django.utils import timezone

from cases import access, clinical, schedule
from cases.models import DoseRegimen, Sample, Treatment


def registered_on(treatment: Treatment) -> datetime.date:
    """The day the treatment was entered in eTDM: no one was reminded of a date before it
    (docs/sampling-schedule.md §9)."""
    return timezone.localdate(treatment.created_at)


def schedule_rows(
    treatment: Treatment, samples: list[Sample], *, today: datetime.date
) -> list[dict[str, object]]:
    """The treatment's due dates (docs/sampling-schedule.md), each with what it means today for
    the nurse: `fulfilled`, `due`, `overdue` (the one to act on now) or `missed` (overtaken by a
    later one), and `before_registration` for an unfulfilled date before the treatment was
    entered in eTDM."""
    window = datetime.timedelta(days=schedule.FULFILMENT_WINDOW_DAYS)
    due = clinical.treatment_schedule(treatment)
    registered = registered_on(treatment)
    overdue = schedule.still_overdue(
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
                "before_registration": state != "fulfilled" and row["date"] < registered,
            }
        )
    return rows


DUE_SOON_DAYS = schedule.UPCOMING_LEAD_DAYS


DRAWN_LIMIT = 200


COUNTED = (Sample.Status.DRAWN, Sample.Status.RESULTED)


@dataclass(frozen=True)
class DueRow:
    """A treatment whose sample is due on `due_date` and not drawn yet; `reason` is why an
    extra sample was asked for."""

    treatment: Treatment
    due_date: datetime.date
    kind: str
    reason: str
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
    """`before_registration` holds the treatments whose open date lies before they were entered
    in eTDM: listed once each, apart from `overdue`, and never reminded of."""

    overdue: list[DueRow]
    before_registration: list[DueRow]
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
            "extra_due_dates",
        )
    )
    if site is not None:
        treatments = treatments.filter(patient__site=site)
    if drug_name:
        treatments = treatments.filter(drug__name=drug_name)
    return treatments


def due_rows(treatment: Treatment, *, today: datetime.date, identity: bool):
    """(the overdue date or None, the unfulfilled due dates of the coming week) of a treatment."""
    if treatment.status_on(today) != Treatment.Status.ACTIVE:
        # Reminders skip treatments off the drug today: a sample then says nothing of the dose.
        return None, []
    due = clinical.due_dates(treatment, until=today + datetime.timedelta(days=DUE_SOON_DAYS))
    drawn = [
        (sample.pk, timezone.localdate(sample.drawn_at)) for sample in treatment.counted_samples
    ]
    overdue, coming = schedule.open_due_dates(
        due, schedule.match_samples(due, drawn), [day for _, day in drawn], today=today
    )
    reasons = {extra.date: extra.reason for extra in treatment.extra_due_dates.all()}

    def row(entry: schedule.DueDate) -> DueRow:
        reason = reasons[entry.date] if entry.kind == "extra" else ""
        return DueRow(treatment, entry.date, entry.kind, reason, identity, today)

    return (row(overdue) if overdue else None), [row(entry) for entry in coming]


def _by_date(rows: list[DueRow]) -> list[DueRow]:
    return sorted(rows, key=lambda r: (r.due_date, r.treatment.patient.study_number))


def build_worklist(user, *, site=None, drug_name: str = "") -> Worklist:
    today = timezone.localdate()
    overdue: list[DueRow] = []
    before_registration: list[DueRow] = []
    due_soon: list[DueRow] = []
    for treatment in _treatments(user, site=site, drug_name=drug_name):
        missed, soon = due_rows(
            treatment, today=today, identity=access.sees_identity(user, treatment.patient)
        )
        if missed is not None:
            if missed.due_date < registered_on(treatment):
                before_registration.append(missed)
            else:
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
        overdue=_by_date(overdue),
        before_registration=_by_date(before_registration),
        due_soon=_by_date(due_soon),
        awaiting_result=[
            AwaitingRow(sample, access.sees_identity(user, sample.treatment.patient), today)
            for sample in awaiting[:DRAWN_LIMIT]
        ],
    )
