"""Rendering and storing advice reports (docs/workflow.md): records in, PDF files with their
SHA-256 out.

The open (unsigned) report is re-rendered whenever the advice changes state; the signed report
is rendered once after the decision and never again. Files are written under a temporary name
and moved into place complete; the advice row is updated with a conditional update of its own
report columns only, so a release or signature made meanwhile is never undone.
"""

from __future__ import annotations

import datetime
import hashlib
from pathlib import Path

from django.conf import settings

from advice.models import OPEN_STATES, Advice
from reports.data import report_data
from reports.render import render_pdf, write_pdf_atomically

REPORT_FOLDER = "reports"


def _load(advice_id: int) -> Advice:
    return Advice.objects.select_related(
        "treatment__patient__site",
        "treatment__drug",
        "sample",
        "adverse_event",
        "released_by",
        "decided_by",
    ).get(pk=advice_id)


def _store(content: bytes, name: str) -> str:
    path = Path(settings.MEDIA_ROOT) / REPORT_FOLDER / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_pdf_atomically(content, path)


def render_open_report(*, advice_id: int) -> str:
    """(Re-)render the unsigned clinical report of open advice; returns its SHA-256."""
    advice = _load(advice_id)
    if advice.state not in OPEN_STATES:
        return advice.report_sha256
    content = render_pdf(report_data(advice, clinical_copy=True))
    sha256 = hashlib.sha256(content).hexdigest()
    if sha256 == advice.report_sha256:
        return sha256
    # The file name carries the state and content, so a newer render never overwrites a file
    # a reader may be downloading, and the stored hash always matches the named file.
    name = f"advice-{advice.pk}-{advice.state}-{sha256[:12]}.pdf"
    _store(content, name)
    Advice.objects.filter(pk=advice.pk, state=advice.state).update(
        report_pdf=f"{REPORT_FOLDER}/{name}", report_sha256=sha256
    )
    return sha256


def render_signed_report(*, advice_id: int) -> str:
    """Render the signed report once; a second run finds it and changes nothing."""
    advice = _load(advice_id)
    if advice.state not in (Advice.State.ACCEPTED, Advice.State.REJECTED):
        raise ValueError(f"advice {advice_id} is {advice.state}, not signed")
    if advice.signed_report_sha256:
        return advice.signed_report_sha256
    content = render_pdf(report_data(advice, clinical_copy=True))
    name = f"advice-{advice.pk}-signed.pdf"
    sha256 = _store(content, name)
    Advice.objects.filter(pk=advice.pk, signed_report_sha256="").update(
        signed_report_pdf=f"{REPORT_FOLDER}/{name}", signed_report_sha256=sha256
    )
    return sha256


def pseudonymised_pdf(advice: Advice) -> bytes:
    """The report without name and record number, rendered on request (never stored)."""
    return render_pdf(report_data(advice, clinical_copy=False))


def stored_pdf(advice: Advice) -> bytes:
    """The clinical report as stored: the signed one once decided, else the open one (rendered
    now if its task has not run yet). Superseded advice shows its last report."""
    if advice.state in (Advice.State.ACCEPTED, Advice.State.REJECTED):
        if not advice.signed_report_sha256:
            render_signed_report(advice_id=advice.pk)
            advice.refresh_from_db(fields=["signed_report_pdf", "signed_report_sha256"])
        return _read(advice.signed_report_pdf.name)
    if advice.state in OPEN_STATES and not advice.report_sha256:
        render_open_report(advice_id=advice.pk)
        advice.refresh_from_db(fields=["report_pdf", "report_sha256"])
    if advice.report_pdf:
        return _read(advice.report_pdf.name)
    return render_pdf(report_data(advice, clinical_copy=True))


def _read(name: str) -> bytes:
    return (Path(settings.MEDIA_ROOT) / name).read_bytes()


# Longer than any render may take (the task time limit is 5 minutes): a temporary file this
# old belongs to a process that died mid-write.
STALE_TEMPORARY_AGE = datetime.timedelta(minutes=15)


def remove_stale_temporary_files(*, now: datetime.datetime) -> int:
    """Delete the half-written temporary files of renders whose process was killed."""
    folder = Path(settings.MEDIA_ROOT) / REPORT_FOLDER
    cutoff = (now - STALE_TEMPORARY_AGE).timestamp()
    removed = 0
    for temporary in folder.glob(".*.tmp"):
        if temporary.stat().st_mtime < cutoff:
            temporary.unlink(missing_ok=True)
            removed += 1
    return removed
