"""Notifications: sampling reminders to nurses and advice to sign for physicians.

The reminders follow docs/sampling-schedule.md §9, the advice notifications docs/workflow.md §2–§3.

A notification is a row first (unique per recipient and cause) and an e-mail second: the row is
written in the transaction that causes it, and `email_pending` sends each one exactly once by
claiming it with a conditional update, so two workers (or a retried task) never send twice.
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
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from advice.models import Advice
from cases import clinical, roles, schedule
from cases.models import Sample, Treatment
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


def sample_reminders(*, today: datetime.date) -> int:
    """Write the sampling reminders due today (docs/sampling-schedule.md §9) and their
    notifications.

    A handful of set-based queries for all treatments together (no query per patient); the
    unique (treatment, due date, kind) constraint makes a second or concurrent run a no-op.
    """
    until = today + datetime.timedelta(days=schedule.UPCOMING_LEAD_DAYS)
    treatments = list(
        Treatment.objects.filter(Q(stop_date__isnull=True) | Q(stop_date__gt=today))
        .select_related("patient__responsible_nurse", "drug")
        .prefetch_related("regimens")
    )
    ids = [t.pk for t in treatments]
    drawn: dict[int, list[tuple[int, datetime.date]]] = defaultdict(list)
    for sample_id, treatment_id, drawn_at in (
        Sample.objects.filter(
            treatment_id__in=ids, status__in=[Sample.Status.DRAWN, Sample.Status.RESULTED]
        )
        .order_by("drawn_at", "pk")
        .values_list("pk", "treatment_id", "drawn_at")
    ):
        drawn[treatment_id].append((sample_id, timezone.localdate(drawn_at)))
    sent: dict[int, set[tuple[datetime.date, str]]] = defaultdict(set)
    for treatment_id, due_date, kind in Reminder.objects.filter(treatment_id__in=ids).values_list(
        "treatment_id", "due_date", "kind"
    ):
        sent[treatment_id].add((due_date, kind))

    new_reminders = []
    for treatment in treatments:
        due = clinical.due_dates(treatment, until=until)
        fulfilled = schedule.match_samples(due, drawn[treatment.pk])
        for reminder in schedule.reminders_to_send(
            due, fulfilled, today=today, sent=sent[treatment.pk]
        ):
            new_reminders.append(
                Reminder(
                    treatment=treatment,
                    due_date=reminder.due_date,
                    kind=reminder.kind,
                    recipient=treatment.patient.responsible_nurse,
                )
            )
    with transaction.atomic():
        Reminder.objects.bulk_create(new_reminders, ignore_conflicts=True)
        # Only the rows this run inserted are unsent and lack notifications; claim them.
        fresh = list(
            Reminder.objects.filter(sent_at__isnull=True)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("treatment__patient", "treatment__drug", "recipient")
        )
        now = timezone.now()
        notifications = []
        for reminder in fresh:
            claimed = Reminder.objects.filter(pk=reminder.pk, sent_at__isnull=True).update(
                sent_at=now
            )
            if claimed:
                notifications.extend(_reminder_notifications(reminder))
        _create(notifications)
    return len(notifications)


def _reminder_notifications(reminder: Reminder) -> list[Notification]:
    patient = reminder.treatment.patient
    recipients = (
        [reminder.recipient]
        if reminder.recipient is not None and reminder.recipient.is_active
        else list(_site_staff(patient.site_id, roles.NURSE))
    )
    upcoming = reminder.kind == Reminder.Kind.UPCOMING
    subject = (
        f"eTDM: sample for {patient.study_number} due on {reminder.due_date:%Y-%m-%d}"
        if upcoming
        else f"eTDM: sample for {patient.study_number} overdue since {reminder.due_date:%Y-%m-%d}"
    )
    body = (
        f"A {reminder.treatment.drug} plasma sample of {patient.study_number} is "
        + ("due" if upcoming else "overdue; it was due")
        + f" on {reminder.due_date:%Y-%m-%d} (a sample drawn within 7 days of that date counts)."
    )
    return [
        Notification(
            recipient=recipient,
            kind=Notification.Kind.SAMPLE_UPCOMING
            if upcoming
            else Notification.Kind.SAMPLE_OVERDUE,
            reminder=reminder,
            subject=subject,
            body=body,
            link=reverse("treatment-detail", args=[reminder.treatment_id]),
        )
        for recipient in recipients
    ]


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
