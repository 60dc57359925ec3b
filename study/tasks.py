"""Celery tasks of the study app: the export job (long; its own time limit)."""

from __future__ import annotations

from celery import shared_task

from study import jobs
from tdm_site.background import TASK_OPTIONS


@shared_task(**{**TASK_OPTIONS, "time_limit": 3600, "soft_time_limit": 3540})
def run_export(export_id: int) -> str:
    return jobs.export_run(export_id=export_id).state
