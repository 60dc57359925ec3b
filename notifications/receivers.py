"""Notifications sent and read as advice changes and is opened (`advice.signals`)."""

from django.dispatch import receiver
from django.urls import reverse

from advice import signals
from notifications import services
from notifications.models import Notification
from tdm_site.background import queue_on_commit


@receiver(signals.advice_released)
def notify_physicians(sender, advice, **kwargs) -> None:
    services.advice_released(advice)


@receiver(signals.advice_superseded)
def notify_physicians_of_superseded_advice(sender, advice, replacement, reason, **kwargs) -> None:
    """Tell the physicians the advice was released to that it is no longer to sign, and why."""
    patient = advice.treatment.patient
    told = Notification.objects.filter(
        advice=advice, kind=Notification.Kind.ADVICE_RELEASED
    ).select_related("recipient")
    follow_up = (
        " New advice, computed again, follows once the pharmacist has reviewed it."
        if replacement is not None
        else ""
    )
    created = Notification.objects.bulk_create(
        [
            Notification(
                recipient=notification.recipient,
                kind=Notification.Kind.ADVICE_SUPERSEDED,
                advice=advice,
                subject=f"eTDM: advice for {patient.study_number} no longer to sign",
                body=(
                    f"The TDM advice for {patient.study_number} ({advice.treatment.drug}) "
                    f"released to you is superseded: {reason}. Do not sign it.{follow_up}"
                ),
                link=reverse("advice-detail", args=[(replacement or advice).pk]),
            )
            for notification in told
        ],
        ignore_conflicts=True,
    )
    if created:
        from notifications import tasks

        queue_on_commit(tasks.email_notifications)


@receiver(signals.signing_locked)
def tell_the_administrators(sender, lock, advice, **kwargs) -> None:
    services.signing_locked(lock)


@receiver(signals.advice_opened)
def mark_read(sender, advice, reader, **kwargs) -> None:
    """Having opened the advice, the reader has seen what its notifications were about."""
    services.mark_read(reader, advice=advice)
