"""The periodic work of every app, declared in one place; beat copies it into its tables.

Schedules name each task by `task.name`, read from the task object, so renaming or moving a
task cannot leave beat sending messages nobody consumes. The task modules are imported once the
Celery app is finalised (the Django apps are ready by then).
"""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab
from django.conf import settings


def beat_schedule() -> dict[str, dict[str, Any]]:
    from advice import tasks as advice_tasks
    from notifications import tasks as notification_tasks
    from reports import tasks as report_tasks

    daily_hour = settings.TDM_REMINDER_HOUR_UTC
    return {
        "send-sample-reminders": {
            "task": notification_tasks.send_sample_reminders.name,
            "schedule": crontab(hour=daily_hour, minute=0),
        },
        "renotify-unsigned-advice": {
            "task": notification_tasks.renotify_unsigned_advice.name,
            "schedule": crontab(hour=daily_hour, minute=15),
        },
        "advice-backlog-sweep": {
            "task": advice_tasks.sweep_advice_backlog.name,
            "schedule": 60.0,
        },
        "report-backlog-sweep": {
            "task": report_tasks.sweep_report_backlog.name,
            "schedule": 60.0,
        },
        "email-backlog-sweep": {
            "task": notification_tasks.email_notifications.name,
            "schedule": 60.0,
        },
    }
