"""Starting a process (web, worker, beat or a command) loads no report renderer: WeasyPrint and
matplotlib cost about a second and 30 MB each, and are loaded by the first task or page that
draws a report or a plot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tdm_site.settings")
import django
django.setup()
from tdm_site.celery import app
app.loader.import_default_modules()
print(json.dumps(sorted(name for name in ("matplotlib", "weasyprint") if name in sys.modules)))
"""


def test_django_setup_and_the_task_modules_load_no_renderer(tmp_path):
    loaded = subprocess.run(  # noqa: S603 - fixed arguments, our own probe
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "TDM_VAR_DIR": str(tmp_path)},
    )
    assert json.loads(loaded.stdout.strip().splitlines()[-1]) == []
