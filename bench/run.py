"""The bench suite: each path of the product beside its physical floor, at two cohort sizes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/run.py
        [--quick | --smoke] [--json] [--only NAME,...] [--sizes PATIENTS,...]

Each size gets a PostgreSQL database of its own on the server of DATABASE_URL
(`etdm_bench_<patients>`), filled once by `generate_cohort` (docs/synthetic-cohort.md) and reused
while the cohort it holds is the one asked for. The measurements of a size run in a child process
on that database; each row is ours and the floor, back to back, each repeated (median), the floor
computing exactly the same thing by the shortest route there is (docs/performance.md says which,
row by row). Work that changes the database is reset outside the timed part.

Sizes (patients; a patient has one treatment or more): full 10 000 and 100 000, `--quick`
2 000 and 20 000, `--smoke` (CI) 2 000 once. The full run adds the exports alone, once each, at
180 000 patients (about a million samples) for their peak RSS.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

# Run as a script: its folder is first on the import path.
from common import FLOOR_TABLES, ROOT, copy_tables, peak_rss_mb, run_json_child, setup_django

SIZES = {"full": (10_000, 100_000), "quick": (2_000, 20_000), "smoke": (2_000,)}
# The full run also exports a cohort of about a million samples, once per format, for the peak
# RSS at that size (mode "million": the export rows only).
MILLION_SAMPLES_PATIENTS = 180_000
REPEATS = {"full": 3, "quick": 3, "smoke": 1, "million": 1}
IMPORT_PATIENTS = {"full": 10_000, "quick": 1_000, "smoke": 50}
API_SECONDS = {"full": 10.0, "quick": 5.0, "smoke": 2.0}
API_CLIENTS = 20
SEED = 1
SITES = 3
CLINICAL_TABLES = (
    "cases_patient",
    "cases_treatment",
    "cases_doseregimen",
    "cases_sample",
    "cases_adverseevent",
    "cases_extraduedate",
)


# The parent: databases and children --------------------------------------------------------------


def database_url(name: str) -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{name}"))


def server_connection():
    import psycopg

    return psycopg.connect(database_url("postgres"), autocommit=True)


def manage(url: str, *arguments: str, capture: bool = False) -> str:
    environment = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "bench.settings"}
    done = subprocess.run(  # noqa: S603 - this script, manage.py or gunicorn
        [sys.executable, str(ROOT / "manage.py"), *arguments],
        cwd=ROOT,
        env=environment,
        check=True,
        stdout=subprocess.PIPE if capture else None,
        text=True,
    )
    return done.stdout or ""


def ensure_cohort(name: str, patients: int) -> None:
    """The database `name` holds exactly the cohort of `patients` for SEED, generated today (its
    dates are relative to the day it was made), or is made to."""
    made_on = datetime.datetime.now(datetime.UTC).date()
    wanted = f"generate_cohort patients={patients} seed={SEED} sites={SITES} on {made_on}"
    with server_connection() as server:
        found = server.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [name],
        ).fetchone()
        if found is not None and found[0] == wanted:
            # The cohort stays; migrations added since it was made still apply.
            manage(database_url(name), "migrate", "--no-input", "-v", "0")
            return
        server.execute(f'DROP DATABASE IF EXISTS "{name}"')
        server.execute(f'CREATE DATABASE "{name}"')
    url = database_url(name)
    started = time.perf_counter()
    manage(url, "migrate", "--no-input", "-v", "0")
    manage(url, "generate_cohort", "--patients", str(patients), "--seed", str(SEED),
           "--sites", str(SITES), capture=True)  # fmt: skip
    print(f"bench: {name} generated in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    with server_connection() as server:
        server.execute(f"COMMENT ON DATABASE \"{name}\" IS '{wanted}'")


def run_child(name: str, mode: str, only: list[str]) -> list[dict]:
    return run_json_child(
        [__file__, "--child"],
        {
            "DATABASE_URL": database_url(name),
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "BENCH_MODE": mode,
            "BENCH_ONLY": ",".join(only),
        },
    )


COLUMNS = (
    ("name", "<28", "name"),
    ("size", ">8", "size"),
    ("ours_s", ">9.4f", "ours s"),
    ("floor_s", ">9.4f", "floor s"),
    ("ratio", ">7.2f", "ratio"),
    ("peak_rss_mb", ">7.1f", "RSS MB"),
    ("queries", ">7d", "queries"),
)


def _width(spec: str) -> str:
    """The alignment and width of a format spec without its type: `>9.4f` → `>9`."""
    return spec[0] + "".join(c for c in spec[1:].split(".")[0] if c.isdigit())


def _cell(value: object, spec: str) -> str:
    return format(value, spec) if value is not None else format("–", _width(spec))


def print_table(rows: list[dict]) -> None:
    header = " ".join(format(title, _width(spec)) for _, spec, title in COLUMNS)
    print(header)
    print("-" * len(header))
    for entry in rows:
        print(" ".join(_cell(entry.get(key), spec) for key, spec, _ in COLUMNS))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument("--quick", action="store_true", help="2 000 and 20 000 patients")
    scale.add_argument("--smoke", action="store_true", help="2 000 patients, once (CI)")
    parser.add_argument("--json", action="store_true", help="one JSON list on stdout")
    parser.add_argument("--only", default="", help="comma-separated measurement names")
    parser.add_argument("--sizes", default="", help="comma-separated patient counts instead")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--export", help=argparse.SUPPRESS)
    parser.add_argument("--import-file", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        return child()
    if arguments.export:
        return export_child(arguments.export)
    if arguments.import_file:
        return import_child(arguments.import_file)
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        parser.error("set DATABASE_URL to a PostgreSQL server (the bench makes its own databases)")
    mode = "smoke" if arguments.smoke else "quick" if arguments.quick else "full"
    only = [name for name in arguments.only.split(",") if name]
    rows: list[dict] = []
    sizes = [int(size) for size in arguments.sizes.split(",") if size] or SIZES[mode]
    runs = [(patients, mode, only) for patients in sizes]
    exports = not only or any(name.startswith("export") for name in only)
    if mode == "full" and not arguments.sizes and exports:
        runs.append((MILLION_SAMPLES_PATIENTS, "million", ["export"]))
    for patients, run_mode, run_only in runs:
        name = f"etdm_bench_{patients}"
        ensure_cohort(name, patients)
        rows += run_child(name, run_mode, run_only)
    if arguments.json:
        print(json.dumps(rows))
    else:
        print_table(rows)
    return 0


# The child: one size's measurements --------------------------------------------------------------


def median_seconds(
    work: Callable[[], object], repeats: int, reset: Callable[[], object] | None = None
) -> float:
    times = []
    for _ in range(repeats):
        if reset is not None:
            reset()
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def row(name: str, size: int, ours: float, floor: float | None, **extra) -> dict:
    return {
        "name": name,
        "size": size,
        "ours_s": round(ours, 6),
        "floor_s": round(floor, 6) if floor is not None else None,
        "ratio": round(ours / floor, 3) if floor else None,
        "peak_rss_mb": extra.pop("peak_rss_mb", None),
        "queries": extra.pop("queries", None),
        **extra,
    }


def child() -> int:
    setup_django("bench.settings")
    from cases.models import Treatment

    mode = os.environ["BENCH_MODE"]
    only = {name for name in os.environ.get("BENCH_ONLY", "").split(",") if name}
    repeats = REPEATS[mode]
    size = Treatment.objects.count()
    rows: list[dict] = []
    for name, measure in MEASUREMENTS:
        if only and not any(name.startswith(prefix) for prefix in only):
            continue
        print(f"bench: {name} at {size} treatments", file=sys.stderr)
        rows += measure(size=size, repeats=repeats, mode=mode)
    print(json.dumps(rows))
    return 0


def _nurse_and_site():
    from django.contrib.auth import get_user_model

    from cases.models import SiteMembership

    membership = (
        SiteMembership.objects.filter(user__groups__name="nurse", user__is_active=True)
        .select_related("user", "site")
        .order_by("site__code", "user__username")
        .first()
    )
    if membership is None:
        raise SystemExit("the bench cohort has no nurse")
    return get_user_model().objects.get(pk=membership.user_id), membership.site


# The due set of a reminder run as one hand-written query over the stored due dates
# (docs/sampling-schedule.md §9, §13): not fulfilled, not before registration, the treatment
# neither stopped nor interrupted that day, upcoming within 7 days or overdue by 3, not yet sent.
REMINDER_DUE_SET = """
SELECT d.treatment_id, d.date FROM cases_duedate d
JOIN cases_treatment t ON t.id = d.treatment_id
WHERE d.fulfilled_by_id IS NULL
  AND d.date >= (t.created_at AT TIME ZONE %(zone)s)::date
  AND (t.stop_date IS NULL OR t.stop_date > %(today)s)
  AND COALESCE((SELECT r.daily_dose_mg FROM cases_doseregimen r WHERE r.treatment_id = t.id
        AND r.status = 'active' AND r.effective_from <= %(today)s
        ORDER BY r.effective_from DESC LIMIT 1), 1) > 0
  AND ((d.date BETWEEN %(today)s AND %(today)s + 7 AND NOT EXISTS (
          SELECT 1 FROM notifications_reminder n WHERE n.treatment_id = d.treatment_id
          AND n.due_date = d.date AND n.kind = 'upcoming'))
    OR (d.date <= %(today)s - 3 AND NOT EXISTS (
          SELECT 1 FROM notifications_reminder n WHERE n.treatment_id = d.treatment_id
          AND n.due_date = d.date AND n.kind = 'overdue')))
"""


def measure_reminder_scan(*, size: int, repeats: int, mode: str) -> list[dict]:
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from notifications.models import Notification, Reminder
    from notifications.services import sample_reminders

    today = timezone.localdate()
    yesterday = today - datetime.timedelta(days=1)

    def forget(since: datetime.datetime | None = None) -> None:
        reminders = Reminder.objects.all()
        digests = Notification.objects.filter(kind=Notification.Kind.SAMPLE_DIGEST)
        if since is not None:
            reminders = reminders.filter(created_at__gte=since)
            digests = digests.filter(created_at__gte=since)
        Notification.reminders.through.objects.filter(reminder__in=reminders).delete()
        digests.delete()
        reminders.delete()

    def due_set(day: datetime.date) -> set[tuple[int, datetime.date]]:
        with connection.cursor() as cursor:
            cursor.execute(REMINDER_DUE_SET, {"zone": settings.TIME_ZONE, "today": day})
            return set(cursor.fetchall())

    def scan(day: datetime.date) -> tuple[float, set, int]:
        mark = timezone.now()
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            sample_reminders(today=day)
            seconds = time.perf_counter() - started
        sent = set(
            Reminder.objects.filter(created_at__gte=mark).values_list("treatment_id", "due_date")
        )
        return seconds, sent, len(queries)

    rows = []
    for name, day, before in (
        ("reminder_scan_first", today, None),
        ("reminder_scan_daily", today, yesterday),
    ):
        ours, floors, counts = [], [], []
        for _ in range(repeats):
            forget()
            if before is not None:
                sample_reminders(today=before)
            started = time.perf_counter()
            expected = due_set(day)
            floors.append(time.perf_counter() - started)
            seconds, sent, queries = scan(day)
            if sent != expected:
                raise AssertionError(
                    f"{name}: the scan sent {len(sent)}, the floor {len(expected)}"
                )
            ours.append(seconds)
            counts.append(queries)
        rows.append(
            row(
                name,
                size,
                statistics.median(ours),
                statistics.median(floors),
                queries=max(counts),
                reminders=len(expected),
            )
        )
    forget()
    return rows


def _page_row(name: str, path: str, size: int, repeats: int) -> dict:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    nurse, _ = _nurse_and_site()
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(nurse)

    def get(address: str) -> int:
        response = client.get(address)
        assert response.status_code == 200, (address, response.status_code)
        return len(response.content)

    get(path)
    ours = median_seconds(lambda: get(path), repeats)
    floor = median_seconds(lambda: get("/bench/trivial/"), repeats)
    with CaptureQueriesContext(connection) as queries:
        html_bytes = get(path)
    return row(name, size, ours, floor, queries=len(queries), html_kb=round(html_bytes / 1024))


def measure_pages(*, size: int, repeats: int, mode: str) -> list[dict]:
    return [
        _page_row("worklist_page", "/worklist/", size, repeats),
        _page_row("patient_list_page", "/patients/", size, repeats),
    ]


def measure_advice_per_sample(*, size: int, repeats: int, mode: str) -> list[dict]:
    from django.db import transaction
    from django.utils import timezone

    from advice import inputs as advice_inputs
    from advice.services import advice_create_for_sample
    from cases import services
    from cases.models import Treatment

    nurse, site = _nurse_and_site()
    treatment = (
        Treatment.objects.filter(patient__site=site, stop_date__isnull=True)
        .order_by("-start_date")
        .first()
    )
    drawn = timezone.localtime() - datetime.timedelta(hours=1)
    ours_times, floor_times = [], []
    for _ in range(max(repeats, 3)):
        with transaction.atomic():
            sample = services.sample_record(
                actor=nurse,
                treatment=treatment,
                drawn_at=drawn,
                last_dose_at=drawn - datetime.timedelta(hours=12),
                concentration=treatment.drug.facts().target_ng_ml or 1000,
                confirm_implausible=True,
            )
            started = time.perf_counter()
            advice = advice_create_for_sample(sample_id=sample.pk)
            ours_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            advice_inputs.advise_on_inputs(advice.inputs)
            floor_times.append(time.perf_counter() - started)
            transaction.set_rollback(True)
    return [
        row(
            "advice_per_sample",
            size,
            statistics.median(ours_times),
            statistics.median(floor_times),
        )
    ]


def _copy_seconds(fmt: str, target: Path) -> float:
    """PostgreSQL writing the rows the format carries itself: the floor of its export."""
    started = time.perf_counter()
    copy_tables(target, FLOOR_TABLES[fmt])
    return time.perf_counter() - started


def measure_exports(*, size: int, repeats: int, mode: str) -> list[dict]:
    from cases.models import Sample

    samples = Sample.objects.count()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for fmt in ("csv", "json", "xlsx", "fhir"):
            floor = statistics.median(
                _copy_seconds(fmt, Path(folder) / "copy.csv") for _ in range(repeats)
            )
            results = [
                run_json_child([__file__, "--export", fmt], {"BENCH_EXPORT_DIR": folder})
                for _ in range(repeats)
            ]
            seconds = statistics.median(result["seconds"] for result in results)
            rss = max(result["peak_rss_mb"] for result in results)
            rows.append(
                row(
                    f"export_{fmt}", size, seconds, floor, peak_rss_mb=round(rss, 1),
                    samples=samples,
                )
            )  # fmt: skip
    return rows


def export_child(fmt: str) -> int:
    setup_django("bench.settings")
    from study.export import write_export
    from study.pseudonym import Pseudonymiser

    target = Path(os.environ["BENCH_EXPORT_DIR"]) / f"export.{fmt}"
    started = time.perf_counter()
    write_export(fmt, target, pseudonymiser=Pseudonymiser())
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_rss_mb()}))
    return 0


def measure_pdf(*, size: int, repeats: int, mode: str) -> list[dict]:
    from django.db.models import Count
    from django.template.loader import render_to_string
    from weasyprint import HTML

    from advice.models import Advice
    from reports.data import report_data
    from reports.render import TEMPLATE, render_pdf
    from reports.report import report_context

    advice = (
        Advice.objects.filter(kind="sample")
        .annotate(samples=Count("treatment__samples"))
        .order_by("-samples", "pk")
        .first()
    )

    def ours() -> bytes:
        return render_pdf(report_data(advice, clinical_copy=True))

    html = render_to_string(TEMPLATE, report_context(report_data(advice, clinical_copy=True)))
    ours()
    HTML(string=html).write_pdf()
    return [
        row(
            "pdf_report",
            size,
            median_seconds(ours, repeats),
            median_seconds(lambda: HTML(string=html).write_pdf(), repeats),
        )
    ]


def _load(url: str, headers: dict[str, str], seconds: float) -> tuple[float, float]:
    """Requests per second and the 95th percentile latency of API_CLIENTS clients, each with
    one keep-alive connection, asking `url` for `seconds`."""
    import http.client

    parts = urlsplit(url)
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client() -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        mine = []
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            connection.request("GET", parts.path, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"{url} answered {response.status}")
            mine.append(time.perf_counter() - started)
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(API_CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return len(latencies) / elapsed, latencies[int(len(latencies) * 0.95) - 1]


def measure_api(*, size: int, repeats: int, mode: str) -> list[dict]:
    import socket

    from django.db.models import Count
    from rest_framework.authtoken.models import Token

    from cases.models import Treatment

    nurse, site = _nurse_and_site()
    token, _ = Token.objects.get_or_create(user=nurse)
    treatment = (
        Treatment.objects.filter(patient__site=site)
        .annotate(samples_count=Count("samples"))
        .order_by("-samples_count", "pk")
        .first()
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(  # noqa: S603 - this script, manage.py or gunicorn

        [sys.executable, "-m", "gunicorn", "tdm_site.wsgi", "--workers", "2",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings"},
    )  # fmt: skip
    try:
        _wait_for(port)
        headers = {"Authorization": f"Token {token.key}", "Host": "127.0.0.1"}
        seconds = API_SECONDS[mode]
        base = f"http://127.0.0.1:{port}"
        _load(f"{base}/api/v1/treatments/{treatment.pk}/", headers, 1.0)
        ours_rps, ours_p95 = _load(f"{base}/api/v1/treatments/{treatment.pk}/", headers, seconds)
        floor_rps, floor_p95 = _load(f"{base}/bench/trivial-api/", headers, seconds)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return [
        row(
            "treatment_api_20_clients",
            size,
            1 / ours_rps,
            1 / floor_rps,
            ours_rps=round(ours_rps, 1),
            floor_rps=round(floor_rps, 1),
            ours_p95_ms=round(ours_p95 * 1000, 1),
            floor_p95_ms=round(floor_p95 * 1000, 1),
            samples=treatment.samples_count,
        )
    ]


def _wait_for(port: int) -> None:
    import socket

    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the API server did not start")


def measure_import(*, size: int, repeats: int, mode: str) -> list[dict]:
    """Import a cohort file of IMPORT_PATIENTS patients into an empty database; the floor is
    PostgreSQL copying the same rows out of the database they came from and into the empty
    one."""
    patients = IMPORT_PATIENTS[mode]
    source = f"etdm_bench_import_source_{patients}"
    target = "etdm_bench_import_target"
    ensure_cohort(source, patients)
    with server_connection() as server:
        server.execute(f'DROP DATABASE IF EXISTS "{target}"')
        server.execute(f'CREATE DATABASE "{target}"')
    manage(database_url(target), "migrate", "--no-input", "-v", "0")
    with tempfile.TemporaryDirectory() as folder:
        document = Path(folder) / "cohort.json"
        subprocess.run(  # noqa: S603 - this script, manage.py or gunicorn
            [sys.executable, str(ROOT / "manage.py"), "export_study", "--format", "json",
             "--out", str(document)],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": database_url(source)},
            check=True,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        ours = []
        for _ in range(repeats):
            _empty(target)
            done = run_json_child(
                [__file__, "--import-file", str(document)], {"DATABASE_URL": database_url(target)}
            )
            ours.append(done["seconds"])
        floor = []
        for _ in range(repeats):
            _empty(target)
            floor.append(_copy_between(source, target))
        _empty(target)
    return [
        row(
            "import_cohort",
            size,
            statistics.median(ours),
            statistics.median(floor),
            patients=patients,
        )
    ]


def _empty(name: str) -> None:
    import psycopg

    with psycopg.connect(database_url(name), autocommit=True) as connection:
        connection.execute(
            "TRUNCATE advice_advice, notifications_notification, notifications_reminder, "
            "cases_auditevent, " + ", ".join(CLINICAL_TABLES) + " RESTART IDENTITY CASCADE"
        )


def _copy_between(source: str, target: str) -> float:
    import psycopg

    started = time.perf_counter()
    with (
        psycopg.connect(database_url(source)) as reading,
        psycopg.connect(database_url(target)) as writing,
    ):
        # The rows are consistent as they come; their users and sites are not copied.
        writing.execute("SET session_replication_role = replica")
        for table in (*CLINICAL_TABLES, "advice_advice"):
            with (
                reading.cursor().copy(f"COPY {table} TO STDOUT (FORMAT BINARY)") as out,
                writing.cursor().copy(f"COPY {table} FROM STDIN (FORMAT BINARY)") as into,
            ):
                for block in out:
                    into.write(block)
        writing.commit()
    return time.perf_counter() - started


def import_child(path: str) -> int:
    setup_django("bench.settings")
    from study.cohort import import_cohort

    document = json.loads(Path(path).read_text(encoding="utf-8"))
    started = time.perf_counter()
    import_cohort(document)
    print(json.dumps({"seconds": time.perf_counter() - started}))
    return 0


MEASUREMENTS: list[tuple[str, Callable[..., list[dict]]]] = [
    ("reminder_scan", measure_reminder_scan),
    ("pages", measure_pages),
    ("advice_per_sample", measure_advice_per_sample),
    ("export", measure_exports),
    ("pdf_report", measure_pdf),
    ("treatment_api", measure_api),
    ("import_cohort", measure_import),
]


if __name__ == "__main__":
    sys.exit(main())
