"""What the bench scripts share: Django in a child process, its peak memory, and the COPY floor
of the study exports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The rows of every table an export format carries (`study.tables`), as a condition on each:
# FHIR has resulted samples only, and no advice.
ALL_TABLES = dict.fromkeys(
    ("patients", "treatments", "doses", "samples", "advice", "adverse_events"), "TRUE"
)
FHIR_TABLES = {"patients": "TRUE", "treatments": "TRUE", "doses": "TRUE",
               "samples": "t.status = 'resulted'", "adverse_events": "TRUE"}  # fmt: skip
FLOOR_TABLES = {"csv": ALL_TABLES, "xlsx": ALL_TABLES, "json": ALL_TABLES, "fhir": FHIR_TABLES}


def setup_django(settings: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings)
    import django

    django.setup()


def peak_rss_mb() -> float:
    """This process's peak resident set size since it started (Linux: VmHWM).

    Not `getrusage`: Linux carries a process's high-water mark across fork and exec, so a
    child would report at least the parent's size at the fork.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise SystemExit("this benchmark reads /proc/self/status and runs on Linux only")


def run_json_child(arguments: list[str], environment: dict[str, str] | None = None) -> dict:
    """Run a child process of this Python and read the JSON it prints on stdout."""
    done = subprocess.run(  # noqa: S603 - a bench script, fixed arguments
        [sys.executable, *arguments],
        cwd=ROOT,
        env={**os.environ, **(environment or {})},
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return json.loads(done.stdout)


def copy_tables(out: Path, tables: dict[str, str]) -> dict[str, int]:
    """PostgreSQL writes the stored columns of the exported rows as CSV by itself, one table
    after the other: the least an export of them can cost. `tables` maps each table of
    `study.tables` to a further condition."""
    from django.db import connection

    from study.tables import TABLES

    connection.ensure_connection()
    rows = {}
    with connection.connection.cursor() as cursor, out.open("wb") as handle:
        for table in TABLES:
            if table.name not in tables:
                continue
            columns = ", ".join(column.stored_sql() for column in table.columns)
            query = (
                f"COPY (SELECT {columns} FROM {table.source} "  # noqa: S608 - SQL of study.tables
                f"WHERE ({table.where}) AND ({tables[table.name]}) ORDER BY t.id) "
                "TO STDOUT WITH (FORMAT csv, HEADER)"
            )
            with cursor.copy(query) as copy:
                for block in copy:
                    handle.write(block)
            rows[table.name] = cursor.rowcount
    return rows
