"""Celery tasks of reminders and notifications: thin and idempotent; each calls a service."""

from __future__ import annotations

import datetime

from celery import shared_task
from django.utils import timezone

from cases import services as cases_services
from notifications import services
from tdm_site.background import TASK_OPTIONS


@shared_task(**TASK_OPTIONS)
def email_notifications() -> int:
    """Send the e-mail of notifications not yet mailed (also the backlog: runs every minute)."""
    return services.email_pending()


@shared_task(**TASK_OPTIONS)
def send_sample_reminders(day: str | None = None) -> dict[str, object]:
    """The daily reminder scan of `day` (YYYY-MM-DD; beat gives none: today), after moving the
    stored due dates' horizon on to the calendar's today (docs/sampling-schedule.md §13). The
    `send_reminders` command runs this task too, for an operator re-running a missed day."""
    cases_services.due_dates_extend(today=timezone.localdate())
    today = datetime.date.fromisoformat(day) if day is not None else timezone.localdate()
    return services.sample_reminders(today=today)


@shared_task(**TASK_OPTIONS)
def renotify_unsigned_advice() -> int:
    return services.advice_unsigned(now=timezone.now())
