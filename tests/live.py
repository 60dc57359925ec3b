"""Helpers for tests that run a real Celery worker process against the test database and the
configured broker (Redis in CI)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test database)."""
    db = connection.settings_dict
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{host}:{port}/{db['NAME']}"


def purge_broker() -> None:
    from tdm_site.celery import app

    app.control.purge()


@contextmanager
def celery_worker(
    var_dir: Path,
    *,
    app: str = "tdm_site",
    pool: str = "solo",
    log: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen]:
    """A worker process on the test database; stopped (and its log kept) when the block ends."""
    env = {
        **os.environ,
        **(extra_env or {}),
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "TDM_VAR_DIR": str(var_dir),
        "PYTHONPATH": str(ROOT),
    }
    var_dir.mkdir(parents=True, exist_ok=True)
    log = log or var_dir / "worker.log"
    with log.open("ab") as output:
        process = subprocess.Popen(  # noqa: S603 - our own worker with fixed arguments
            [
                sys.executable, "-m", "celery", "-A", app, "worker", "--pool", pool,
                "--concurrency", "1", "--loglevel", "INFO", "--without-heartbeat",
                "--without-gossip", "--without-mingle",
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_for(lambda: b"ready" in log.read_bytes(), timeout=60, what="worker start")
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_for(condition: Callable[[], object], *, timeout: float, what: str):
    """Poll until `condition()` is truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.25)
