"""The daily digest of sampling reminders (docs/sampling-schedule.md §9): one notification per
nurse and day, listing that day's reminders of her patients and counting the rest of her
worklist.

Built from rows, not model instances: the reminders of a scan are read once with what the text
needs, the counts are aggregated by the database, and the digests are written with one
statement, so a scan's cost follows the reminders it writes and the dates open today, not the
cohort or its history.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from cases import roles, schedule, selectors
from cases.models import DueDate
from notifications.models import Notification, Reminder
from tdm_site.background import queue_on_commit


@dataclass(frozen=True)
class Listed:
    """A reminder as its digest tells it."""

    pk: int
    kind: str
    due_date: datetime.date
    treatment_id: int
    study_number: str
    drug: str


def tell(reminder_ids: list[int], claimed_at: datetime.datetime, *, today: datetime.date) -> int:
    """Put the reminders a scan of `today` wrote (`reminder_ids`, sent at `claimed_at`) in their
    nurses' digests of the day, made if need be, and write each digest's text; returns how many
    nurses were told. A digest that already listed reminders shows as unread again."""
    site_nurses = _site_nurse_ids()
    by_nurse = _fresh(reminder_ids, claimed_at, site_nurses)
    if not by_nurse:
        return 0
    digest_of = _digests(list(by_nurse), today=today)
    earlier = _listed_before(list(digest_of.values()))
    listed = {
        nurse_id: earlier[digest_id] + by_nurse[nurse_id]
        for nurse_id, digest_id in digest_of.items()
    }
    through = Notification.reminders.through
    through.objects.bulk_create(
        [
            through(notification_id=digest_of[nurse_id], reminder_id=reminder.pk)
            for nurse_id, reminders in by_nurse.items()
            for reminder in reminders
        ],
        ignore_conflicts=True,
    )
    digest_ids = list(digest_of.values())
    counts = _open_counts(list(digest_of), site_nurses, today=today)
    open_listed = _open_listed(digest_ids, site_nurses, today=today)
    texts = []
    for nurse_id, digest_id in digest_of.items():
        reminders = listed[nurse_id]
        others = counts[nurse_id] - len(
            open_listed[nurse_id] & {(r.treatment_id, r.due_date) for r in reminders}
        )
        subject, body = _digest_text(reminders, others=others, today=today)
        texts.append((digest_id, subject, body))
    _write_digests(texts)
    from notifications import tasks

    queue_on_commit(tasks.email_notifications)
    return len(digest_of)


def _site_nurse_ids() -> dict[int, list[int]]:
    """The active nurses of every site: {site id: [user ids]}, in one query."""
    nurses: dict[int, list[int]] = defaultdict(list)
    for user_id, site_id in (
        get_user_model()
        .objects.filter(is_active=True, groups__name=roles.NURSE, site_memberships__isnull=False)
        .values_list("pk", "site_memberships__site_id")
        .distinct()
        .order_by("pk")
    ):
        nurses[site_id].append(user_id)
    return nurses


def _told(
    nurse_id: int | None, active: bool | None, site_id: int, site_nurses: dict[int, list[int]]
) -> list[int]:
    """Who is reminded of a patient's samples: the responsible nurse, or every nurse of the site
    when none is set (or hers is no longer active)."""
    if nurse_id is not None and active:
        return [nurse_id]
    return site_nurses.get(site_id, [])


PATIENT = "treatment__patient__"
TOLD_KEYS = (
    f"{PATIENT}responsible_nurse_id",
    f"{PATIENT}responsible_nurse__is_active",
    f"{PATIENT}site_id",
)
LISTED_FIELDS = (
    "pk",
    "kind",
    "due_date",
    "treatment_id",
    f"{PATIENT}study_number",
    "treatment__drug__name",
)


def _fresh(
    reminder_ids: list[int], claimed_at: datetime.datetime, site_nurses: dict[int, list[int]]
) -> dict[int, list[Listed]]:
    """The scan's reminders of each nurse told of them, {nurse id: [reminders]}, in one query."""
    fresh = set(reminder_ids)
    by_nurse: dict[int, list[Listed]] = defaultdict(list)
    for *fields, nurse_id, active, site_id in (
        _claimed(reminder_ids, claimed_at).order_by("pk").values_list(*LISTED_FIELDS, *TOLD_KEYS)
    ):
        reminder = Listed(*fields)
        if reminder.pk in fresh:
            for recipient in _told(nurse_id, active, site_id, site_nurses):
                by_nurse[recipient].append(reminder)
    return by_nurse


def _claimed(reminder_ids: list[int], claimed_at: datetime.datetime) -> QuerySet[Reminder]:
    # The ids a scan inserts are not contiguous when another run inserts at the same time;
    # the claim time keeps that run's rows out of the range (the caller checks the ids).
    return Reminder.objects.filter(
        pk__gte=min(reminder_ids), pk__lte=max(reminder_ids), sent_at=claimed_at
    )


def _digests(nurses: list[int], *, today: datetime.date) -> dict[int, int]:
    """The nurses' digests of `today`, {nurse id: digest id}, locked, in one statement: made
    (their text to follow) or, made by an earlier run that day, shown as unread again. A
    digest a concurrent run is making is waited for, then taken as made before."""
    ops = connection.ops
    table = ops.quote_name(Notification._meta.db_table)
    day = ops.adapt_datefield_value(today)
    made = ops.adapt_datetimefield_value(timezone.now())
    kind = Notification.Kind.SAMPLE_DIGEST
    rows = ", ".join(["(%s, %s, '', '', '', %s, %s)"] * len(nurses))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (recipient_id, kind, subject, body, link, digest_date, "  # noqa: S608 - fixed SQL, values as parameters
            f"created_at) VALUES {rows} "
            # The target and predicate of the one_digest_per_recipient_day constraint.
            "ON CONFLICT (recipient_id, kind, digest_date) WHERE digest_date IS NOT NULL "
            "DO UPDATE SET read_at = NULL RETURNING recipient_id, id",
            [value for nurse_id in nurses for value in (nurse_id, kind, day, made)],
        )
        return dict(cursor.fetchall())


def _listed_before(digest_ids: list[int]) -> dict[int, list[Listed]]:
    """The reminders the digests list already, {digest id: [reminders]}: read after the digests
    were locked, so a concurrent run's, committed, are among them."""
    listed: dict[int, list[Listed]] = defaultdict(list)
    for digest_id, *fields in (
        Reminder.objects.filter(notifications__in=digest_ids)
        .order_by("pk")
        .values_list("notifications", *LISTED_FIELDS)
    ):
        listed[digest_id].append(Listed(*fields))
    return listed


def _until(today: datetime.date) -> datetime.date:
    return today + datetime.timedelta(days=schedule.UPCOMING_LEAD_DAYS)


def _open_rows(whose: Q, *, today: datetime.date) -> tuple[QuerySet[DueDate], QuerySet[DueDate]]:
    """What is open today (`selectors.open_due_dates`) of the treatments `whose` selects among
    the due dates: their coming due dates, and their dates still overdue.

    Both are found through the indexes of the open dates (the coming days', and the dates
    current today), so the rows read grow with what is open today, not with the treatments
    told or how long they have run; the regimen in effect is probed only for those.
    """
    rows = selectors.on_the_drug_row_by_row(DueDate.objects.filter(whose), today=today)
    return (
        rows.filter(selectors.coming(today, _until(today))),
        rows.filter(selectors.still_overdue(today)),
    )


def _open_counts(
    nurses: list[int], site_nurses: dict[int, list[int]], *, today: datetime.date
) -> dict[int, int]:
    """For each of `nurses`, how many due dates are open for her patients (her worklist's
    overdue, before registration and coming 7 days), counted by the database per (responsible
    nurse, site) in one query. Only her own patients are read, and at her sites those whom no
    active nurse is responsible for."""
    sites = {site_id for site_id, ids in site_nurses.items() if set(ids) & set(nurses)}
    coming, overdue = _open_rows(
        Q(**{f"{PATIENT}responsible_nurse_id__in": nurses})
        | (
            Q(**{f"{PATIENT}site_id__in": sites})
            & (
                Q(**{f"{PATIENT}responsible_nurse__isnull": True})
                | Q(**{f"{PATIENT}responsible_nurse__is_active": False})
            )
        ),
        today=today,
    )
    counts: dict[int, int] = defaultdict(int)
    rows = coming.values_list(*TOLD_KEYS).annotate(number=Count("pk")).order_by()
    for nurse_id, active, site_id, number in rows.union(
        overdue.values_list(*TOLD_KEYS).annotate(number=Count("pk")).order_by(), all=True
    ):
        for recipient in _told(nurse_id, active, site_id, site_nurses):
            counts[recipient] += number
    return counts


def _open_listed(
    digest_ids: list[int], site_nurses: dict[int, list[int]], *, today: datetime.date
) -> dict[int, set[tuple[int, datetime.date]]]:
    """The open due dates of the treatments the digests list, as (treatment id, date) of each
    nurse told of them, in one query: a listed date open for her is not counted again."""
    coming, overdue = _open_rows(
        Q(
            treatment_id__in=Reminder.objects.filter(notifications__in=digest_ids).values(
                "treatment_id"
            )
        ),
        today=today,
    )
    fields = ("treatment_id", "date", *TOLD_KEYS)
    open_of: dict[int, set[tuple[int, datetime.date]]] = defaultdict(set)
    for treatment_id, date, nurse_id, active, site_id in (
        coming.values_list(*fields)
        .order_by()
        .union(overdue.values_list(*fields).order_by(), all=True)
    ):
        for recipient in _told(nurse_id, active, site_id, site_nurses):
            open_of[recipient].add((treatment_id, date))
    return open_of


def _write_digests(texts: list[tuple[int, str, str]]) -> None:
    """Store each digest's (id, subject, body) and the worklist link, in one statement."""
    table = connection.ops.quote_name(Notification._meta.db_table)
    rows = ", ".join(["(%s, %s, %s)"] * len(texts))
    # VALUES names its columns column1, column2, … on PostgreSQL and SQLite alike.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET subject = v.column2, body = v.column3, link = %s "  # noqa: S608 - fixed SQL, values as parameters
            f"FROM (VALUES {rows}) AS v WHERE {table}.id = v.column1",
            [reverse("worklist"), *(value for text in texts for value in text)],
        )


def _digest_text(reminders: list[Listed], *, others: int, today: datetime.date) -> tuple[str, str]:
    """The subject and text of a nurse's digest of `today`: the reminders, due soon first, and
    how many other due dates are open for her patients. Patients by study number only."""

    def order(reminder: Listed):
        return reminder.due_date, reminder.study_number, reminder.pk

    upcoming = sorted((r for r in reminders if r.kind == Reminder.Kind.UPCOMING), key=order)
    overdue = sorted((r for r in reminders if r.kind == Reminder.Kind.OVERDUE), key=order)
    counts = []
    if upcoming:
        counts.append(f"{_samples(len(upcoming))} due soon")
    if overdue:
        counts.append(
            f"{len(overdue)} overdue" if upcoming else f"{_samples(len(overdue))} overdue"
        )
    subject = f"eTDM: {' and '.join(counts)} ({today:%Y-%m-%d})"
    lines = [f"Sampling reminders of {today:%a %Y-%m-%d}.", ""]
    if upcoming:
        lines.append("Due soon:")
        lines += [f"- {_sample_of(r)} due {_when(r.due_date, today)}." for r in upcoming]
        lines.append("")
    if overdue:
        lines.append("Overdue, no sample drawn since 7 days before the due date:")
        lines += [f"- {_sample_of(r)} {_overdue_since(r.due_date, today)}." for r in overdue]
        lines.append("")
    lines.append(_others(others))
    lines.append(
        f"A sample drawn from {schedule.FULFILMENT_WINDOW_DAYS} days before to "
        f"{schedule.FULFILMENT_WINDOW_DAYS} days after its due date counts for it."
    )
    return subject, "\n".join(lines)


def _samples(count: int) -> str:
    return f"{count} sample{'s' if count != 1 else ''}"


def _sample_of(reminder: Listed) -> str:
    # "TDM-0001: imatinib sample": a drug name takes no article.
    return f"{reminder.study_number}: {reminder.drug} sample"


def _when(due_date: datetime.date, today: datetime.date) -> str:
    days = (due_date - today).days
    if days == 0:
        return f"today ({due_date:%a %Y-%m-%d})"
    if days == 1:
        return f"tomorrow ({due_date:%a %Y-%m-%d})"
    return f"in {days} days ({due_date:%a %Y-%m-%d})"


def _overdue_since(due_date: datetime.date, today: datetime.date) -> str:
    days = (today - due_date).days
    text = f"was due on {due_date:%a %Y-%m-%d}, {days} day{'s' if days != 1 else ''} ago"
    counts_until = due_date + datetime.timedelta(days=schedule.FULFILMENT_WINDOW_DAYS)
    if counts_until >= today:
        text += f"; a sample drawn by {counts_until:%a %Y-%m-%d} still counts"
    return text


def _others(count: int) -> str:
    if count == 0:
        return "No other due date is open for your patients."
    if count == 1:
        return "1 other due date is open for your patients: see the worklist."
    return f"{count} other due dates are open for your patients: see the worklist."
