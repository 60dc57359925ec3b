"""A Celery app for tests: the real one, except that the first report write stalls.

`celery -A tests.stalling_worker worker` behaves exactly like `-A tdm_site`, but the first
`os.fsync` of a PDF write (file written, not yet moved into place) writes the process id to
TDM_TEST_STALL_MARKER and sleeps, so a test can kill the process in the middle of rendering.
"""

import os
import time
from pathlib import Path

from reports import render
from tdm_site.celery import app

_real_fsync = os.fsync
_marker = Path(os.environ["TDM_TEST_STALL_MARKER"])


def _stalling_fsync(descriptor: int) -> None:
    if not _marker.exists():
        _marker.write_text(str(os.getpid()))
        time.sleep(120)
    _real_fsync(descriptor)


render.os.fsync = _stalling_fsync

__all__ = ["app"]
