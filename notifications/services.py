"""Notifications: sampling reminders to nurses and advice to sign for physicians.

The reminders follow docs/sampling-schedule.md §9, the advice notifications docs/workflow.md §2–§3.

A notification is a row first (unique per recipient and cause) and an e-mail second: the row is
written in the transaction that causes it, and `email_pending` sends each one exactly once by
claiming it with a conditional update, so two workers (or a retried task) never send twice.
Sampling reminders are told in one digest notification per nurse and day, which lists them
(`notifications.digests`).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from advice import signing
from advice.models import Advice, SigningLock
from cases import roles, schedule, selectors
from cases.models import DueDate
from notifications import digests
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


def signing_locked(lock: SigningLock) -> None:
    """Tell the administrators at once that a user's signing is locked (21 CFR Part 11
    §11.300(d)): they unlock it, or look into who tried."""
    user = lock.user
    name = user.get_full_name() or user.get_username()
    administrators = (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name=roles.ADMIN))
    )
    _create(
        Notification(
            recipient=administrator,
            kind=Notification.Kind.SIGNING_LOCKED,
            subject=f"eTDM: signing locked for {user.get_username()}",
            body=(
                f"{name} ({user.get_username()}) gave a wrong signature password "
                f"{signing.FAILURES_TO_LOCK} times within 15 minutes, so they cannot sign "
                "advice until an administrator unlocks it (administration, Signing locks). "
                "If they did not try themselves, someone else may have their account."
            ),
            link=reverse("admin:advice_signinglock_changelist"),
        )
        for administrator in administrators.distinct()
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

    Set-based over the stored due dates (docs/sampling-schedule.md §13): one statement finds the
    due set and inserts it, already marked sent, and the digests are built from the rows it
    inserted (`digests.tell`); the number of queries does not depend on the number of
    treatments, due dates or reminders. The unique (treatment, due date, kind) constraint makes
    a second or concurrent run add nothing, and only the run that inserts a reminder tells it,
    so it is never told twice. A reminder written after the day's digest was made (the scan run
    again by hand) is added to that digest, which shows as unread again; its e-mail is not sent
    a second time. Returns what the run did, as JSON: the day, the reminders written, the
    nurses told.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # The planner prices the scan's correlated probes above the JIT thresholds, and
            # compiling them costs more than running them (35 ms to 1.5 s a statement at
            # 24 000 treatments, for nothing saved): each statement here reads by index.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        claimed_at = timezone.now()
        reminder_ids = _insert_due_reminders(today, claimed_at=claimed_at)
        told = digests.tell(reminder_ids, claimed_at, today=today) if reminder_ids else 0
    return {"date": today.isoformat(), "reminders": len(reminder_ids), "nurses_told": told}


def _insert_due_reminders(today: datetime.date, *, claimed_at: datetime.datetime) -> list[int]:
    """Insert the reminders due `today` (`_due_reminders`), sent at `claimed_at`, in one
    statement; returns the ids of those inserted. A reminder a concurrent run inserted first is
    skipped (the statement waits for that run to end), so each is inserted, and told, once."""
    due_sql, due_params = (
        _due_reminders(today)
        .order_by()
        .values_list("treatment_id", "date", "nurse_id")
        .query.sql_with_params()
    )
    ops = connection.ops
    table = ops.quote_name(Reminder._meta.db_table)
    when = ops.adapt_datetimefield_value(claimed_at)
    columns = "treatment_id, due_date, kind, recipient_id, created_at, sent_at"
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH due (treatment_id, due_date, nurse_id) AS ({due_sql}) "  # noqa: S608 - the ORM's SQL, values as parameters
            f"INSERT INTO {table} ({columns}) "
            "SELECT treatment_id, due_date, CASE WHEN due_date >= %s THEN %s ELSE %s END, "
            "nurse_id, %s, %s FROM due "
            # SQLite reads an ON CONFLICT after a bare FROM as a join's ON: the WHERE ends it.
            "WHERE true ON CONFLICT (treatment_id, due_date, kind) DO NOTHING RETURNING id",
            [
                *due_params,
                ops.adapt_datefield_value(today),
                Reminder.Kind.UPCOMING,
                Reminder.Kind.OVERDUE,
                when,
                when,
            ],
        )
        return [reminder_id for (reminder_id,) in cursor.fetchall()]


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
