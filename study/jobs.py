"""Study-data exports as background work with progress (docs/data-dictionary.md).

A data manager asks for an export (`export_request`); a Celery task runs it (`export_run`),
writing the file through `study.export.write_export` and reporting progress on the row,
which the export page and `GET /api/v1/exports/{id}/` show.
"""

from __future__ import annotations

import datetime
import logging
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cases import audit
from cases.models import AuditEvent
from study.export import write_export
from study.models import Export
from study.pseudonym import Pseudonymiser
from tdm_site.background import queue_on_commit

logger = logging.getLogger(__name__)

EXPORT_FOLDER = "exports"
# A running export writes its progress at least this often; one silent for longer has lost
# its worker and may be taken over by the redelivered task.
STALLED_AFTER = datetime.timedelta(minutes=10)
# Progress is written at most this often: a row update per exported row would cost more
# than the export.
PROGRESS_INTERVAL = datetime.timedelta(seconds=1)


def exports_visible_to(user: AbstractBaseUser):
    """Data managers see the exports they asked for; admins see all."""
    if user.is_superuser:
        return Export.objects.all()
    return Export.objects.filter(requested_by=user)


def release_key_path() -> Path | None:
    configured = settings.TDM_EXPORT_KEY_FILE
    return Path(configured) if configured else None


@transaction.atomic
def export_request(*, actor: AbstractBaseUser, format: str, for_release: bool = False) -> Export:
    """Queue a pseudonymised export in one of the formats of docs/data-dictionary.md."""
    if not actor.has_perm("study.export_study"):
        raise PermissionDenied("Your role may not export study data.")
    if format not in Export.Format.values:
        raise ValidationError(
            {
                "format": [
                    f"Unknown format {format!r}; use one of {', '.join(Export.Format.values)}."
                ]
            }
        )
    if for_release and release_key_path() is None:
        raise ValidationError(
            {
                "for_release": [
                    "No pseudonymisation key is configured (TDM_EXPORT_KEY_FILE); "
                    "ask the administrator."
                ]
            }
        )
    export = Export.objects.create(requested_by=actor, format=format, for_release=for_release)
    audit.record(
        actor=actor,
        action=AuditEvent.Action.EXPORT,
        instance=export,
        detail=f"requested {format} export" + (" for release" if for_release else ""),
    )
    from study import tasks

    queue_on_commit(tasks.run_export, export.pk)
    return export


def _claim(export_id: int, now: datetime.datetime) -> bool:
    """Take the export for this run: a queued one, or a running one whose worker went silent."""
    claimable = Q(state=Export.State.QUEUED) | Q(
        state=Export.State.RUNNING, updated_at__lt=now - STALLED_AFTER
    )
    return bool(
        Export.objects.filter(claimable, pk=export_id).update(
            state=Export.State.RUNNING, started_at=now, progress=0, updated_at=now
        )
    )


def export_run(*, export_id: int) -> Export:
    """Write the export file; safe to run twice (only one run claims the export)."""
    if not _claim(export_id, timezone.now()):
        return Export.objects.get(pk=export_id)
    export = Export.objects.get(pk=export_id)
    return _write(export, _ProgressRecorder(export_id))


class _ProgressRecorder:
    """Writes the export's progress (and so its heartbeat) at most once a second."""

    def __init__(self, export_id: int) -> None:
        self.export_id = export_id
        self.last_write = timezone.now()

    def __call__(self, done: int, total: int) -> None:
        now = timezone.now()
        if now - self.last_write < PROGRESS_INTERVAL:
            return
        self.last_write = now
        percent = min(99, int(done * 100 / total)) if total else 0
        Export.objects.filter(pk=self.export_id, state=Export.State.RUNNING).update(
            progress=percent, updated_at=now
        )


def _write(export: Export, progress: _ProgressRecorder) -> Export:
    export_id = export.pk
    folder = Path(settings.MEDIA_ROOT) / EXPORT_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / export.filename
    try:
        key_path = release_key_path() if export.for_release else None
        pseudonymiser = Pseudonymiser.from_key_file(key_path) if key_path else Pseudonymiser()
        summary = write_export(export.format, path, pseudonymiser=pseudonymiser, progress=progress)
    except Exception as error:
        # The data manager sees the failure on the export page and can ask again; retrying
        # an export that failed on its data would only fail again.
        logger.exception("export %s failed", export_id)
        Export.objects.filter(pk=export_id).update(
            state=Export.State.FAILED,
            error=f"{type(error).__name__}: {error}"[:2000],
            finished_at=timezone.now(),
        )
        return Export.objects.get(pk=export_id)
    Export.objects.filter(pk=export_id, state=Export.State.RUNNING).update(
        state=Export.State.DONE,
        progress=100,
        file=f"{EXPORT_FOLDER}/{export.filename}",
        sha256=summary.sha256,
        size_bytes=path.stat().st_size,
        finished_at=timezone.now(),
    )
    export.refresh_from_db()
    return export


@transaction.atomic
def export_file(export: Export, *, actor: AbstractBaseUser) -> Path:
    """The finished file, for download; the download itself is in the audit trail."""
    if export.state != Export.State.DONE:
        raise ValidationError({"state": [f"The export is {export.state}, not ready."]})
    audit.record(actor=actor, action=AuditEvent.Action.EXPORT, instance=export, detail="downloaded")
    return Path(settings.MEDIA_ROOT) / export.file.name
