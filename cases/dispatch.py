"""Queueing background work from a transaction, safely.

Work is queued only after the transaction commits (a task queued earlier could run before the
commit and read old data). If the broker cannot take the message, nothing is lost: the record
is saved, and the periodic backlog sweep (`cases.tasks.backlog_sweep`) finds the work not done
and does it once the broker is back.
"""

import logging

from django.db import transaction
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def _send(task_name: str, args: tuple) -> None:
    from cases import tasks

    try:
        getattr(tasks, task_name).apply_async(args=args, retry=False)
    except (OperationalError, OSError) as error:
        logger.warning(
            "broker unavailable, %s%s left to the backlog sweep: %s", task_name, args, error
        )


def after_commit(task_name: str, *args: object) -> None:
    """Queue `cases.tasks.<task_name>(*args)` once the current transaction has committed."""
    transaction.on_commit(lambda: _send(task_name, args))
