"""Background work: the options every task shares, and queueing a task from a transaction.

Work is queued only after the transaction commits (a task queued earlier could run before the
commit and read old data). If the broker cannot take the message, nothing is lost: the record
is saved, and each app's periodic backlog sweep finds the work not done and does it once the
broker is back (docs/workflow.md, "When the broker is down").

A service queues its own app's task object, importing the task module inside the function
(tasks import services, so a module-level import would be a cycle).
"""

from __future__ import annotations

import datetime
import logging
import smtplib
from typing import Any

from django.db import OperationalError as DatabaseOperationalError
from django.db import transaction
from kombu.exceptions import OperationalError as BrokerOperationalError

logger = logging.getLogger(__name__)

# A backlog sweep leaves fresh records to the task queued on their commit; only older ones are
# work whose message never reached a worker.
BACKLOG_GRACE = datetime.timedelta(minutes=2)

TRANSIENT_ERRORS = (DatabaseOperationalError, smtplib.SMTPException, ConnectionError, TimeoutError)

# Every task is acknowledged late (a task of a worker that dies is delivered again) and safe to
# run twice: effects are guarded by unique constraints, state checks and conditional updates.
# Retries are bounded, with backoff, and only for errors that pass (database or mail outages).
TASK_OPTIONS: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 6,
}


def _send(task: Any, args: tuple[object, ...]) -> None:
    try:
        task.apply_async(args=args, retry=False)
    except (BrokerOperationalError, OSError) as error:
        logger.warning(
            "broker unavailable, %s%s left to the backlog sweep: %s", task.name, args, error
        )


def queue_on_commit(task: Any, *args: object) -> None:
    """Queue `task(*args)` once the current transaction has committed."""
    transaction.on_commit(lambda: _send(task, args))
