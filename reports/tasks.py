"""Celery tasks that render the advice reports: thin, idempotent, by id.

The rendering modules (WeasyPrint, matplotlib) are imported when a task runs, not when the
worker or the web process starts.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from advice.models import OPEN_STATES, Advice
from tdm_site.background import BACKLOG_GRACE, TASK_OPTIONS

logger = logging.getLogger(__name__)


@shared_task(**TASK_OPTIONS)
def render_advice_report(advice_id: int) -> str:
    from reports import storage

    return storage.render_open_report(advice_id=advice_id)


@shared_task(**TASK_OPTIONS)
def render_signed_report(advice_id: int) -> str:
    from reports import storage

    return storage.render_signed_report(advice_id=advice_id)


@shared_task(**TASK_OPTIONS)
def sweep_report_backlog() -> dict[str, int]:
    """Render the reports whose message never reached a worker, and remove the temporary files
    of renders whose process was killed. Each step is idempotent. (Decisions imported with a
    cohort carry no signature to render.)"""
    from reports import storage

    now = timezone.now()
    cutoff = now - BACKLOG_GRACE
    done = {"reports": 0, "signed_reports": 0}
    for advice_id in Advice.objects.filter(
        state__in=OPEN_STATES, report_sha256="", updated_at__lte=cutoff
    ).values_list("pk", flat=True)[:100]:
        storage.render_open_report(advice_id=advice_id)
        done["reports"] += 1
    for advice_id in Advice.objects.filter(
        state__in=[Advice.State.ACCEPTED, Advice.State.REJECTED],
        signed_report_sha256="",
        decided_by__isnull=False,
        decided_at__lte=cutoff,
    ).values_list("pk", flat=True)[:100]:
        storage.render_signed_report(advice_id=advice_id)
        done["signed_reports"] += 1
    done["stale_temporary_files"] = storage.remove_stale_temporary_files(now=now)
    if any(done.values()):
        logger.info("report backlog sweep did %s", done)
    return done
