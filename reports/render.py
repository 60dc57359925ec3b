"""Rendering an advice report to PDF and storing it.

The PDF is a pure function of its `ReportData`: no creation date, a file identifier derived
from the advice, and a byte-stable plot. Rendering the same data again gives the same bytes,
so the SHA-256 stored with a signed report can be checked against a fresh rendering.

What every rendering shares is set up once per worker process: WeasyPrint's fonts here, and
the plot of the same values in `reports.plot`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from pathlib import Path

from django.template.loader import render_to_string
from weasyprint import HTML
from weasyprint.text.fonts import FontConfiguration

from reports.report import ReportData, report_context

TEMPLATE = "reports/advice_report.html"

# fontTools, which WeasyPrint uses to cut the embedded fonts down to the glyphs used, stamps
# each font with the current time unless SOURCE_DATE_EPOCH is set (the reproducible-builds
# convention), and that stamp would make every rendering differ. A fixed value, never
# removed again, so concurrent renderings in other threads cannot see it missing.
FONT_TIMESTAMP = "1704067200"  # 2024-01-01T00:00:00Z


# WeasyPrint's font set-up (the fontconfig configuration and the font faces it has loaded),
# built once per thread of each worker process and reused by every rendering in it.
_fonts = threading.local()


def font_configuration() -> FontConfiguration:
    if not hasattr(_fonts, "configuration"):
        _fonts.configuration = FontConfiguration()
    return _fonts.configuration


def render_pdf(data: ReportData) -> bytes:
    """The A4 PDF report of one advice; the same data always gives the same bytes."""
    os.environ["SOURCE_DATE_EPOCH"] = FONT_TIMESTAMP
    html = render_to_string(TEMPLATE, report_context(data))
    # WeasyPrint writes creation dates only when the HTML declares them, and the template
    # does not. Archives expect a file identifier: one derived from the advice is the same
    # on every rendering.
    return HTML(string=html).write_pdf(
        pdf_identifier=f"etdm-advice-{data.advice_id}".encode(),
        font_config=font_configuration(),
    )


def write_pdf_atomically(content: bytes, path: Path) -> str:
    """Write `content` to `path` and return its hex SHA-256.

    The bytes go to a temporary file in the same folder, are flushed to disk, and the file is
    renamed over `path` in one step: a reader sees the old file or the whole new one, never a
    partial one, and a failure leaves no temporary file behind.
    """
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    # The rename is durable only once the folder's entry is on disk as well.
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
    return hashlib.sha256(content).hexdigest()
