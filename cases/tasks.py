"""Celery tasks: thin, idempotent, by id. Each fetches what it needs and calls a service.

All tasks are acknowledged late (a task of a worker that dies is delivered again) and safe to
run twice: effects are guarded by unique constraints, state checks and conditional updates.
Retries are bounded, with backoff, and only for errors that pass (database or mail outages).
"""

from __future__ import annotations

import datetime
import logging
import smtplib

from celery import shared_task
from django.db import OperationalError as DatabaseOperationalError
from django.db.models import Exists, OuterRef
from django.utils import timezone

from cases import notify, workflow
from cases.models import AdverseEvent, Advice, Sample

logger = logging.getLogger(__name__)

TRANSIENT_ERRORS = (DatabaseOperationalError, smtplib.SMTPException, ConnectionError, TimeoutError)
TASK_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 6,
}
# The sweep leaves fresh records to the task queued on commit; only older ones are a backlog.
BACKLOG_GRACE = datetime.timedelta(minutes=2)
# An AE logged while the drug was interrupted gets no toxicity advice; stop looking after this.
BACKLOG_HORIZON = datetime.timedelta(days=30)


@shared_task(**TASK_OPTIONS)
def compute_sample_advice(sample_id: int) -> int | None:
    advice = workflow.advice_create_for_sample(sample_id=sample_id)
    return advice.pk if advice else None


@shared_task(**TASK_OPTIONS)
def compute_adverse_event_advice(event_id: int) -> int | None:
    advice = workflow.advice_create_for_adverse_event(event_id=event_id)
    return advice.pk if advice else None


@shared_task(**TASK_OPTIONS)
def render_advice_report(advice_id: int) -> str:
    from reports import service

    return service.render_open_report(advice_id=advice_id)


@shared_task(**TASK_OPTIONS)
def render_signed_report(advice_id: int) -> str:
    from reports import service

    return service.render_signed_report(advice_id=advice_id)


@shared_task(**{**TASK_OPTIONS, "time_limit": 3600, "soft_time_limit": 3540})
def run_export(export_id: int) -> str:
    from cases import exporting

    return exporting.export_run(export_id=export_id).state


@shared_task(**TASK_OPTIONS)
def email_notifications() -> int:
    return notify.email_pending()


@shared_task(**TASK_OPTIONS)
def send_sample_reminders() -> int:
    return notify.sample_reminders(today=timezone.localdate())


@shared_task(**TASK_OPTIONS)
def renotify_unsigned_advice() -> int:
    return notify.advice_unsigned(now=timezone.now())


@shared_task(**TASK_OPTIONS)
def backlog_sweep() -> dict[str, int]:
    """Do the work whose message never reached a worker (broker down at save time, SPEC §7).

    Results without advice, AEs without toxicity advice, open advice without a report and
    advice signed in the application without a signed report are handled here directly; each
    step is idempotent. (Decisions imported with a cohort carry no signature to render.)
    Temporary files left by a render whose process was killed are removed.
    """
    cutoff = timezone.now() - BACKLOG_GRACE
    live_advice = Advice.objects.exclude(state=Advice.State.SUPERSEDED)
    samples = Sample.objects.filter(
        status=Sample.Status.RESULTED, daily_dose_mg__gt=0, created_at__lte=cutoff
    ).exclude(Exists(Advice.objects.filter(sample=OuterRef("pk"))))
    events = AdverseEvent.objects.filter(
        entered_in_error=False,
        created_at__lte=cutoff,
        created_at__gte=timezone.now() - BACKLOG_HORIZON,
    ).exclude(Exists(Advice.objects.filter(adverse_event=OuterRef("pk"))))
    done = {"sample_advice": 0, "toxicity_advice": 0, "reports": 0, "signed_reports": 0}
    for sample_id in samples.values_list("pk", flat=True)[:500]:
        done["sample_advice"] += workflow.advice_create_for_sample(sample_id=sample_id) is not None
    for event_id in events.values_list("pk", flat=True)[:500]:
        done["toxicity_advice"] += (
            workflow.advice_create_for_adverse_event(event_id=event_id) is not None
        )
    for advice_id in live_advice.filter(
        state__in=workflow.OPEN_STATES, report_sha256="", updated_at__lte=cutoff
    ).values_list("pk", flat=True)[:100]:
        render_advice_report(advice_id)
        done["reports"] += 1
    for advice_id in Advice.objects.filter(
        state__in=[Advice.State.ACCEPTED, Advice.State.REJECTED],
        signed_report_sha256="",
        decided_by__isnull=False,
        decided_at__lte=cutoff,
    ).values_list("pk", flat=True)[:100]:
        render_signed_report(advice_id)
        done["signed_reports"] += 1
    notify.email_pending()
    from reports import service

    done["stale_temporary_files"] = service.remove_stale_temporary_files(now=timezone.now())
    if any(done.values()):
        logger.info("backlog sweep did %s", done)
    return done
