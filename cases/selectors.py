"""Reads the pages share: a treatment's due dates and the nurses' worklist.

Each starts from `visible_to(user)`, so another site's records never reach a page. The worklist
and the reminder scan read the stored due dates (`DueDate`, docs/sampling-schedule.md §13) with
SQL: what is open today is a query, never a loop over treatments.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, overload

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from cases import access, clinical, roles, schedule
from cases.models import DoseRegimen, DueDate, ExtraDueDate, Sample, SiteMembership, Treatment
from cases.models.due_dates import CurrentOn


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
# The due windows the worklist offers: what is open up to today, or also the coming days.
WINDOWS = {"overdue": 0, "7": DUE_SOON_DAYS, "30": 30}
DEFAULT_WINDOW = "7"
# The orders the worklist offers; each ends with the row's id, so pages never overlap.
SORTS = {
    "due": ("date", "treatment__patient__study_number", "pk"),
    "patient": ("treatment__patient__study_number", "date", "pk"),
    "drug": ("treatment__drug__name", "date", "treatment__patient__study_number", "pk"),
}
DEFAULT_SORT = "due"

COUNTED = (Sample.Status.DRAWN, Sample.Status.RESULTED)


def _dose_in_effect(treatment: OuterRef, today: datetime.date) -> Coalesce:
    """The daily dose of the live regimen in effect `today` of the treatment `treatment` names;
    no regimen in effect yet (a start in the future) is not an interruption."""
    dose = (
        DoseRegimen.objects.filter(
            treatment=treatment, status=DoseRegimen.Status.ACTIVE, effective_from__lte=today
        )
        .order_by("-effective_from")
        .values("daily_dose_mg")[:1]
    )
    return Coalesce(Subquery(dose), Value(Decimal(1)))


def on_the_drug_treatments(*, today: datetime.date) -> QuerySet[Treatment]:
    """The treatments on the drug `today`: not stopped, and not interrupted by the live regimen
    in effect (docs/sampling-schedule.md §9: a sample then says nothing of the dose)."""
    return (
        Treatment.objects.filter(Q(stop_date__isnull=True) | Q(stop_date__gt=today))
        .alias(dose_today=_dose_in_effect(OuterRef("pk"), today))
        .filter(dose_today__gt=0)
    )


def on_the_drug(rows: QuerySet[DueDate], *, today: datetime.date) -> QuerySet[DueDate]:
    """The due dates of treatments on the drug `today` (`on_the_drug_treatments`). For reading a
    whole set (the reminder scan, the digest counts): the regimen in effect is looked up once
    per treatment, not once per due date."""
    return rows.filter(treatment__in=on_the_drug_treatments(today=today))


def on_the_drug_row_by_row(rows: QuerySet[DueDate], *, today: datetime.date) -> QuerySet[DueDate]:
    """`on_the_drug` for a page read in order (the worklist): one regimen probe per row read, so
    a page of 50 stops after its 50 rows instead of judging every treatment first."""
    return (
        rows.filter(Q(treatment__stop_date__isnull=True) | Q(treatment__stop_date__gt=today))
        .alias(dose_today=_dose_in_effect(OuterRef("treatment"), today))
        .filter(dose_today__gt=0)
    )


def registered(rows: QuerySet[DueDate]) -> QuerySet[DueDate]:
    """`rows` with `registered_on`, the day the treatment was entered in eTDM (as
    `registered_on` gives it)."""
    return rows.alias(registered_on=TruncDate("treatment__created_at"))


def still_overdue(today: datetime.date) -> Q:
    """The due date each treatment still has to act on (`schedule.still_overdue`): its latest
    one before today, with no counted sample drawn since that date's window opened."""
    sampled = Sample.objects.filter(
        treatment=OuterRef("treatment"),
        status__in=COUNTED,
        drawn_at__date__gte=OuterRef("window_opens"),
    )
    return Q(CurrentOn(today), fulfilled_by__isnull=True) & ~Exists(sampled)


def coming(today: datetime.date, until: datetime.date) -> Q:
    """The unfulfilled due dates from today up to `until`."""
    return Q(date__gte=today, date__lte=until, fulfilled_by__isnull=True)


def open_due_dates(*, today: datetime.date, until: datetime.date) -> QuerySet[DueDate]:
    """What is open today for the treatments on the drug (`schedule.open_due_dates`): the date
    each still has to act on, and the unfulfilled ones up to `until`."""
    return on_the_drug(
        DueDate.objects.filter(still_overdue(today) | coming(today, until)), today=today
    )


def patients_of_nurse(nurse) -> Q:
    """A nurse's patients, over rows with a `treatment` (due dates, samples): those she is
    responsible for, and at her sites those without an active responsible nurse (who is
    reminded of a sample, docs/sampling-schedule.md §9)."""
    patient = "treatment__patient__"
    return Q(**{f"{patient}responsible_nurse": nurse}) | (
        (
            Q(**{f"{patient}responsible_nurse__isnull": True})
            | Q(**{f"{patient}responsible_nurse__is_active": False})
        )
        & Q(
            **{f"{patient}site_id__in": SiteMembership.objects.filter(user=nurse).values("site_id")}
        )
    )


class Section:
    """One list of the worklist, read a page at a time: `len()` (and `count()`, for a
    Paginator) is its total, one query; a slice reads only its rows, one query."""

    def __init__(
        self,
        rows: QuerySet,
        make: Callable[[Any], object],
        *,
        count: Callable[[], int] | None = None,
    ) -> None:
        self._rows = rows
        self._make = make
        self._counter = count or rows.count
        self._count: int | None = None

    def count(self) -> int:
        if self._count is None:
            self._count = self._counter()
        return self._count

    def __len__(self) -> int:
        return self.count()

    def __bool__(self) -> bool:
        return self.count() > 0

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> list: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [self._make(row) for row in self._rows[index]]
        return self._make(self._rows[index])

    def __iter__(self) -> Iterator:
        return iter(self[:])


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
    """The sections of the worklist, each a `Section`. `before_registration` holds the dates
    still open that lie before their treatment was entered in eTDM: one per treatment, apart
    from `overdue`, never reminded of. `due_soon` is empty for the window "overdue"."""

    overdue: Section
    before_registration: Section
    due_soon: Section
    awaiting_result: Section
    window_days: int


def nurses_to_filter_by(user):
    """The active nurses of the sites the user sees, for the worklist's nurse filter."""
    nurses = get_user_model().objects.filter(is_active=True, groups__name=roles.NURSE)
    site_ids = access.visible_site_ids(user)
    if site_ids is not None:
        nurses = nurses.filter(site_memberships__site_id__in=site_ids)
    return nurses.distinct().order_by("username")


def build_worklist(
    user,
    *,
    site=None,
    drug_name: str = "",
    nurse=None,
    window: str = DEFAULT_WINDOW,
    sort: str = DEFAULT_SORT,
) -> Worklist:
    """The user's worklist today: the still-open date of each treatment on the drug (overdue,
    or before registration) and the unfulfilled dates of the coming `window` days, of the
    sites the user sees, narrowed to a site, a drug and a nurse's patients (`patients_of_nurse`),
    sorted by `sort` (a key of SORTS). Nothing is read until a section is counted or sliced."""
    today = timezone.localdate()
    window_days = WINDOWS[window]
    rows = registered(DueDate.objects.visible_to(user))
    if site is not None:
        rows = rows.filter(treatment__patient__site=site)
    if drug_name:
        rows = rows.filter(treatment__drug__name=drug_name)
    if nurse is not None:
        rows = rows.filter(patients_of_nurse(nurse))
    rows = on_the_drug_row_by_row(rows, today=today).select_related(
        "treatment__patient__site", "treatment__drug"
    )
    reason = (
        ExtraDueDate.objects.filter(treatment=OuterRef("treatment"), date=OuterRef("date"))
        .order_by()
        .values("reason")[:1]
    )
    order = SORTS[sort]
    missed = rows.filter(still_overdue(today))

    def due_row(entry: DueDate) -> DueRow:
        treatment = entry.treatment
        return DueRow(
            treatment,
            entry.date,
            entry.kind,
            entry.reason or "",
            access.sees_identity(user, treatment.patient),
            today,
        )

    def section(chosen: QuerySet[DueDate], count: Callable[[], int] | None = None) -> Section:
        return Section(
            chosen.annotate(reason=Subquery(reason)).order_by(*order), due_row, count=count
        )

    # The two sections of the dates still overdue are counted in one pass over them.
    @functools.cache
    def missed_counts() -> dict[str, int]:
        return missed.annotate(registered_day=F("registered_on")).aggregate(
            overdue=Count("pk", filter=Q(date__gte=F("registered_day"))),
            before_registration=Count("pk", filter=Q(date__lt=F("registered_day"))),
        )

    awaiting = (
        Sample.objects.visible_to(user)
        .filter(status=Sample.Status.DRAWN)
        .select_related("treatment__patient__site", "treatment__drug")
        .order_by("drawn_at", "pk")
    )
    if site is not None:
        awaiting = awaiting.filter(treatment__patient__site=site)
    if drug_name:
        awaiting = awaiting.filter(treatment__drug__name=drug_name)
    if nurse is not None:
        awaiting = awaiting.filter(patients_of_nurse(nurse))
    return Worklist(
        overdue=section(
            missed.filter(date__gte=F("registered_on")), lambda: missed_counts()["overdue"]
        ),
        before_registration=section(
            missed.filter(date__lt=F("registered_on")),
            lambda: missed_counts()["before_registration"],
        ),
        due_soon=section(
            rows.filter(coming(today, today + datetime.timedelta(days=window_days)))
            if window_days
            else rows.none()
        ),
        awaiting_result=Section(
            awaiting,
            lambda sample: AwaitingRow(
                sample, access.sees_identity(user, sample.treatment.patient), today
            ),
        ),
        window_days=window_days,
    )
