"""Celery tasks of reminders and notifications: thin and idempotent; each calls a service."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from notifications import services
from tdm_site.background import TASK_OPTIONS


@shared_task(**TASK_OPTIONS)
def email_notifications() -> int:
    """Send the e-mail of notifications not yet mailed (also the backlog: runs every minute)."""
    return services.email_pending()


@shared_task(**TASK_OPTIONS)
def send_sample_reminders() -> int:
    return services.sample_reminders(today=timezone.localdate())


@shared_task(**TASK_OPTIONS)
def renotify_unsigned_advice() -> int:
    return services.advice_unsigned(now=timezone.now())
