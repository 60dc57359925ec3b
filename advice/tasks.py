"""Celery tasks of the advice workflow: thin, idempotent, by id; each calls a service."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from advice import services
from tdm_site.background import TASK_OPTIONS


@shared_task(**TASK_OPTIONS)
def compute_sample_advice(sample_id: int) -> int | None:
    advice = services.advice_create_for_sample(sample_id=sample_id)
    return advice.pk if advice else None


@shared_task(**TASK_OPTIONS)
def compute_adverse_event_advice(event_id: int) -> int | None:
    advice = services.advice_create_for_adverse_event(event_id=event_id)
    return advice.pk if advice else None


@shared_task(**TASK_OPTIONS)
def sweep_advice_backlog() -> dict[str, int]:
    """Compute the advice whose message never reached a worker (broker down at save time)."""
    return services.advice_backlog(now=timezone.now())
