"""Notifications: sampling reminders to nurses and advice to sign for physicians.

The reminders follow docs/sampling-schedule.md §9, the advice notifications docs/workflow.md §2–§3.

A notification is a row first (unique per recipient and cause) and an e-mail second: the row is
written in the transaction that causes it, and `email_pending` sends each one exactly once by
claiming it with a conditional update, so two workers (or a retried task) never send twice.
Sampling reminders are told in one digest notification per nurse and day, which lists them.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q
from django.urls import reverse
from django.utils import timezone

from advice.models import Advice
from cases import roles, schedule, selectors
from cases.models import DueDate
from notifications.models import Notification, Reminder
from tdm_site.background import queue_on_commit

logger = logging.getLogger(__name__)

UNSIGNED_RENOTIFY_AFTER = datetime.timedelta(days=3)


def _site_staff(site_id: int, role: str):
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name=role, site_memberships__site_id=site_id)
        .distinct()
    )


def _physicians_for(advice: Advice) -> list:
    """The treating physician, or every physician of the site when none is set
    (docs/workflow.md §2)."""
    patient = advice.treatment.patient
    physician = patient.treating_physician
    if physician is not None and physician.is_active:
        return [physician]
    return list(_site_staff(patient.site_id, roles.PHYSICIAN))


def _create(notifications: Iterable[Notification]) -> int:
    """Store new notifications (a duplicate from a concurrent run is skipped by the unique
    constraints) and have them e-mailed after commit; returns how many were offered."""
    offered = Notification.objects.bulk_create(list(notifications), ignore_conflicts=True)
    if offered:
        from notifications import tasks

        queue_on_commit(tasks.email_notifications)
    return len(offered)


def advice_released(advice: Advice) -> None:
    patient = advice.treatment.patient
    _create(
        Notification(
            recipient=physician,
            kind=Notification.Kind.ADVICE_RELEASED,
            advice=advice,
            subject=f"eTDM: advice to sign for {patient.study_number}",
            body=(
                f"The pharmacist released TDM advice for {patient.study_number} "
                f"({advice.treatment.drug}): {advice.text}\n\nPlease accept or reject it."
            ),
            link=reverse("advice-detail", args=[advice.pk]),
        )
        for physician in _physicians_for(advice)
    )


@transaction.atomic
def advice_unsigned(*, now: datetime.datetime) -> int:
    """Remind physicians of advice released 3 or more days ago and still unsigned (once)."""
    already = Notification.objects.filter(
        advice=OuterRef("pk"), kind=Notification.Kind.ADVICE_UNSIGNED
    )
    overdue = (
        Advice.objects.filter(
            state=Advice.State.RELEASED, released_at__lte=now - UNSIGNED_RENOTIFY_AFTER
        )
        .exclude(Exists(already))
        .select_related("treatment__patient__treating_physician", "treatment__drug")
    )
    notifications = []
    for advice in overdue:
        patient = advice.treatment.patient
        notifications.extend(
            Notification(
                recipient=physician,
                kind=Notification.Kind.ADVICE_UNSIGNED,
                advice=advice,
                subject=f"eTDM: advice for {patient.study_number} still awaits your signature",
                body=(
                    f"TDM advice for {patient.study_number} ({advice.treatment.drug}) was "
                    f"released on {timezone.localtime(advice.released_at):%Y-%m-%d %H:%M %Z} "
                    f"and is not signed yet: {advice.text}"
                ),
                link=reverse("advice-detail", args=[advice.pk]),
            )
            for physician in _physicians_for(advice)
        )
    return _create(notifications)


def sample_reminders(*, today: datetime.date) -> dict[str, object]:
    """The daily reminder scan (docs/sampling-schedule.md §9): write the reminders due `today`
    and tell each nurse of hers in one digest for the day, in the application and by e-mail.

    Set-based over the stored due dates (docs/sampling-schedule.md §13): one query finds the
    due set, one statement inserts it, one conditional UPDATE claims what is unsent, and the
    digests are built per nurse from what was claimed; the number of queries does not depend on
    the number of treatments, due dates or reminders. The unique (treatment, due date, kind)
    constraint makes a second or concurrent run add nothing, and a reminder is claimed once, so
    it is never told twice. A reminder written after the day's digest was made (the scan run
    again by hand) is added to that digest, which shows as unread again; its e-mail is not sent
    a second time. Returns what the run did, as JSON: the day, the reminders written, the
    nurses told.
    """
    with transaction.atomic():
        due = list(_due_reminders(today).values_list("treatment_id", "date", "nurse_id"))
        Reminder.objects.bulk_create(
            [
                Reminder(
                    treatment_id=treatment_id,
                    due_date=date,
                    kind=Reminder.Kind.UPCOMING if date >= today else Reminder.Kind.OVERDUE,
                    recipient_id=nurse_id,
                )
                for treatment_id, date, nurse_id in due
            ],
            ignore_conflicts=True,
        )
        # Only rows a run inserts are unsent; this run claims those of its treatments that no
        # concurrent run claimed first (the UPDATE waits for it and then finds them sent).
        claimed_at = timezone.now()
        treatment_ids = sorted({treatment_id for treatment_id, _, _ in due})
        Reminder.objects.filter(treatment_id__in=treatment_ids, sent_at__isnull=True).update(
            sent_at=claimed_at
        )
        fresh = list(
            Reminder.objects.filter(treatment_id__in=treatment_ids, sent_at=claimed_at)
            .select_related("treatment__patient__responsible_nurse", "treatment__drug")
            .order_by("pk")
        )
        site_nurses = _site_nurse_ids()
        by_nurse: dict[int, list[Reminder]] = defaultdict(list)
        for reminder in fresh:
            for nurse_id in _nurses_of(reminder.treatment.patient, site_nurses):
                by_nurse[nurse_id].append(reminder)
        told = _tell_in_digests(by_nurse, site_nurses, today=today)
    return {"date": today.isoformat(), "reminders": len(fresh), "nurses_told": told}


def _due_reminders(today: datetime.date):
    """The stored due dates that get a reminder `today` and have not had it
    (`schedule.reminders_to_send`): unfulfilled, not before the registration day, of a
    treatment on the drug today; `upcoming` from 7 days before the date up to the date itself,
    `overdue` from 3 days after it on. One query."""
    lead = datetime.timedelta(days=schedule.UPCOMING_LEAD_DAYS)
    late = datetime.timedelta(days=schedule.OVERDUE_AFTER_DAYS)

    def sent(kind: str) -> Exists:
        return Exists(
            Reminder.objects.filter(
                treatment=OuterRef("treatment"), due_date=OuterRef("date"), kind=kind
            )
        )

    rows = selectors.registered(
        DueDate.objects.filter(fulfilled_by__isnull=True).filter(
            (Q(date__gte=today, date__lte=today + lead) & ~sent(Reminder.Kind.UPCOMING))
            | (Q(date__lte=today - late) & ~sent(Reminder.Kind.OVERDUE))
        )
    ).filter(date__gte=F("registered_on"))
    return selectors.on_the_drug(rows, today=today).annotate(
        nurse_id=F("treatment__patient__responsible_nurse_id")
    )


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


def _nurses_of(patient, site_nurses: dict[int, list[int]]) -> list[int]:
    """Who is reminded of the patient's samples: the responsible nurse, or every nurse of the
    site when none is set (or hers is no longer active)."""
    nurse = patient.responsible_nurse
    if nurse is not None and nurse.is_active:
        return [nurse.pk]
    return site_nurses.get(patient.site_id, [])


def _tell_in_digests(
    by_nurse: dict[int, list[Reminder]],
    site_nurses: dict[int, list[int]],
    *,
    today: datetime.date,
) -> int:
    """Put each nurse's new reminders in her digest of `today` (made if need be) and write its
    text; returns how many nurses were told."""
    if not by_nurse:
        return 0
    kind = Notification.Kind.SAMPLE_DIGEST
    Notification.objects.bulk_create(
        [
            Notification(recipient_id=nurse_id, kind=kind, digest_date=today)
            for nurse_id in by_nurse
        ],
        ignore_conflicts=True,
    )
    digests = list(
        Notification.objects.select_for_update()
        .filter(kind=kind, digest_date=today, recipient_id__in=list(by_nurse))
        .prefetch_related(
            Prefetch(
                "reminders",
                queryset=Reminder.objects.select_related("treatment__patient", "treatment__drug"),
            )
        )
    )
    through = Notification.reminders.through
    through.objects.bulk_create(
        [
            through(notification_id=digest.pk, reminder_id=reminder.pk)
            for digest in digests
            for reminder in by_nurse[digest.recipient_id]
        ],
        ignore_conflicts=True,
    )
    link = reverse("worklist")
    listed = {
        digest.recipient_id: list(digest.reminders.all()) + by_nurse[digest.recipient_id]
        for digest in digests
    }
    others = _other_open_dates(listed, site_nurses, today=today)
    for digest in digests:
        digest.subject, digest.body = _digest_text(
            listed[digest.recipient_id], others=others[digest.recipient_id], today=today
        )
        digest.link = link
        if digest.reminders.all():
            # Told before today: the digest shows as unread again.
            digest.read_at = None
    Notification.objects.bulk_update(digests, ["subject", "body", "link", "read_at"])
    from notifications import tasks

    queue_on_commit(tasks.email_notifications)
    return len(digests)


def _other_open_dates(
    listed: dict[int, list[Reminder]],
    site_nurses: dict[int, list[int]],
    *,
    today: datetime.date,
) -> dict[int, int]:
    """For each nurse of `listed`, how many due dates are open for her patients (her worklist's
    overdue, before registration and coming 7 days) besides those her digest lists. Two
    queries: the open dates counted per (responsible nurse, site), and those of the listed
    treatments, to leave out the listed ones."""
    nurses = list(listed)
    sites_of: dict[int, set[int]] = defaultdict(set)
    for site_id, site_nurse_ids in site_nurses.items():
        for nurse_id in site_nurse_ids:
            sites_of[nurse_id].add(site_id)
    patient = "treatment__patient__"
    # Her own patients, and at her sites only those whom no active nurse is responsible for:
    # the patients of a nurse not told today are not read.
    unassigned = Q(**{f"{patient}responsible_nurse__isnull": True}) | Q(
        **{f"{patient}responsible_nurse__is_active": False}
    )
    open_rows = selectors.open_due_dates(
        today=today, until=today + datetime.timedelta(days=schedule.UPCOMING_LEAD_DAYS)
    ).filter(
        Q(**{f"{patient}responsible_nurse_id__in": nurses})
        | (Q(**{f"{patient}site_id__in": {s for n in nurses for s in sites_of[n]}}) & unassigned)
    )
    keys = (
        f"{patient}responsible_nurse_id",
        f"{patient}responsible_nurse__is_active",
        f"{patient}site_id",
    )

    def told(nurse_id: int | None, active: bool | None, site_id: int) -> list[int]:
        if nurse_id is not None and active:
            return [nurse_id]
        return site_nurses.get(site_id, [])

    counts: dict[int, int] = defaultdict(int)
    for nurse_id, active, site_id, number in (
        open_rows.values_list(*keys).annotate(number=Count("pk")).order_by()
    ):
        for recipient in told(nurse_id, active, site_id):
            counts[recipient] += number
    listed_treatments = {r.treatment_id for reminders in listed.values() for r in reminders}
    listed_open = defaultdict(set)
    for treatment_id, date, nurse_id, active, site_id in open_rows.filter(
        treatment_id__in=listed_treatments
    ).values_list("treatment_id", "date", *keys):
        for recipient in told(nurse_id, active, site_id):
            listed_open[recipient].add((treatment_id, date))
    return {
        nurse_id: counts[nurse_id]
        - len(listed_open[nurse_id] & {(r.treatment_id, r.due_date) for r in reminders})
        for nurse_id, reminders in listed.items()
    }


def _digest_text(
    reminders: list[Reminder], *, others: int, today: datetime.date
) -> tuple[str, str]:
    """The subject and text of a nurse's digest of `today`: the reminders, due soon first, and
    how many other due dates are open for her patients. Patients by study number only."""

    def order(reminder: Reminder):
        return reminder.due_date, reminder.treatment.patient.study_number

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


def _sample_of(reminder: Reminder) -> str:
    # "TDM-0001: imatinib sample": a drug name takes no article.
    treatment = reminder.treatment
    return f"{treatment.patient.study_number}: {treatment.drug.name} sample"


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


def email_pending(*, limit: int = 200) -> int:
    """Send the e-mail of every notification not e-mailed yet, each exactly once."""
    sent = 0
    pending = Notification.objects.filter(emailed_at__isnull=True).select_related("recipient")
    for notification in pending.order_by("pk")[:limit]:
        claimed = Notification.objects.filter(pk=notification.pk, emailed_at__isnull=True).update(
            emailed_at=timezone.now()
        )
        if not claimed or not notification.recipient.email:
            continue
        try:
            send_mail(
                notification.subject,
                f"{notification.body}\n\n{settings.TDM_BASE_URL}{notification.link}",
                None,
                [notification.recipient.email],
            )
        except OSError:
            # Unclaim so the next run retries; the task's own retry covers a short outage.
            Notification.objects.filter(pk=notification.pk).update(emailed_at=None)
            raise
        sent += 1
    return sent


def mark_read(
    recipient, *, notification: Notification | None = None, advice: Advice | None = None
) -> int:
    """Mark the recipient's unread notifications read: one, those about one advice, or all.

    A conditional update: marking twice, or from two tabs, keeps the first reading time.
    """
    unread = Notification.objects.filter(recipient=recipient, read_at__isnull=True)
    if notification is not None:
        unread = unread.filter(pk=notification.pk)
    if advice is not None:
        unread = unread.filter(advice=advice)
    return unread.update(read_at=timezone.now())
