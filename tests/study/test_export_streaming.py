"""How the study exports read the database (docs/data-dictionary.md, "How the files are
written"): on PostgreSQL the CSV tables come from `COPY … TO STDOUT` with the same bytes as the
Python path; every format reads in chunks or batches whose number of queries does not depend
on the rows in them."""

from __future__ import annotations

import datetime
import zipfile
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from advice.models import Advice
from cases.models import AdverseEvent, DoseRegimen, Patient, Sample, Treatment
from study import export as export_module
from study import fhir
from study.cohort import records
from study.columns import Table
from study.export import write_export
from study.pseudonym import Pseudonymiser
from study.tables import TABLES

pytestmark = pytest.mark.django_db

KEY = Pseudonymiser(key=b"k" * 32)
TRICKY_TEXT = '=HYPERLINK("x","y"), a\ncomma; "quoted"'
# A summer moment (UTC+02:00) with microseconds and a winter one (UTC+01:00).
SUMMER = datetime.datetime(2024, 7, 1, 7, 5, 9, 123456, tzinfo=datetime.UTC)
WINTER = datetime.datetime(2024, 1, 9, 22, 59, 0, tzinfo=datetime.UTC)


@pytest.fixture
def awkward_cohort(case_at, django_capture_on_commit_callbacks):
    """Two patients with advice whose cells exercise every rule of `csv_cell`: formula-like
    and quoted text with commas and a line feed, empty texts, lists, decimals with and without
    fractions, moments with and without microseconds on both sides of a daylight-saving
    change."""
    with django_capture_on_commit_callbacks(execute=True):
        a = case_at("a")
        case_at("b", adverse_event=False)
    Patient.objects.filter(pk=a["patient"].pk).update(tumour=TRICKY_TEXT, tumour_code="")
    Patient.objects.exclude(pk=a["patient"].pk).update(tumour="-2", tumour_code="C22.0")
    Treatment.objects.filter(pk=a["treatment"].pk).update(stop_date=datetime.date(2024, 3, 1))
    DoseRegimen.objects.filter(treatment=a["treatment"]).update(
        split_mg=[133.33333333333334, 0.5, 200.0], reason="@start"
    )
    Sample.objects.filter(pk=a["sample"].pk).update(
        drawn_at=SUMMER,
        last_dose_at=WINTER,
        analytes={"sunitinib": 50.5, "SU12662": 20, "x": 1e-05},
        not_evaluable_reasons=["before_min_time", "missed_dose"],
        warnings=["+not_steady_state"],
        concentration=Decimal("2870.50"),
        below_lloq=True,
    )
    DoseRegimen.objects.exclude(treatment=a["treatment"]).update(split_mg=[1e-05])
    Advice.objects.filter(treatment=a["treatment"]).update(
        proposed_split_mg=[-5, 2.25], checks=["a", "b"], released_at=SUMMER, edited=True
    )
    Advice.objects.exclude(treatment=a["treatment"]).update(proposed_split_mg=[-7.5])
    AdverseEvent.objects.filter(treatment=a["treatment"]).update(
        resolved=datetime.date(2024, 2, 29)
    )
    return a


def member_bytes(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.mark.parametrize("pseudonymiser", [Pseudonymiser(), KEY], ids=["no key", "key"])
def test_copy_writes_the_bytes_of_the_python_path(
    postgresql, awkward_cohort, tmp_path, monkeypatch, pseudonymiser
):
    def python_rows_are_not_read(self, queryset, p):
        raise AssertionError("on PostgreSQL the CSV rows come from COPY")

    with monkeypatch.context() as patched:
        patched.setattr(Table, "read", python_rows_are_not_read)
        copied = write_export("csv", tmp_path / "copy.zip", pseudonymiser=pseudonymiser)
    monkeypatch.setattr(export_module, "copies_in_sql", lambda: False)
    written = write_export("csv", tmp_path / "python.zip", pseudonymiser=pseudonymiser)

    assert copied.rows == written.rows
    assert member_bytes(copied.path) == member_bytes(written.path)
    patients = member_bytes(copied.path)["patients.csv"].decode()
    assert '"\'=HYPERLINK(""x"",""y""), a\ncomma; ""quoted"""' in patients
    assert "\r\n" in patients
    advice = member_bytes(copied.path)["advice.csv"].decode()
    assert ",'-7.5," in advice
    assert ",'-5;2.25," in advice


def test_the_session_is_left_as_it_was(postgresql, case_at, tmp_path):
    """No temporary pseudonym table left behind, the time zone Django set back."""
    case_at("a")
    with postgresql.cursor() as cursor:
        cursor.execute("SELECT current_setting('TimeZone')")
        (zone,) = cursor.fetchone()
    write_export("csv", tmp_path / "study.zip", pseudonymiser=KEY)
    with postgresql.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [export_module.PSEUDONYMS_TABLE])
        assert cursor.fetchone() == (None,)
        cursor.execute("SELECT current_setting('TimeZone')")
        assert cursor.fetchone() == (zone,)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_tables_are_read_with_a_fixed_number_of_queries(
    case_at, tmp_path, fmt, django_assert_max_num_queries
):
    """One count per table and one (chunked) read per table, however many rows: the rows
    are never fetched one query per row nor all held at once."""
    for index in range(4):
        case_at("ab"[index % 2], f"TDM-Q{index:03d}")
    # Counts and reads per table, plus the pseudonym pages on PostgreSQL (whose COPY
    # statements go past Django's query log).
    with django_assert_max_num_queries(2 * len(TABLES) + 2):
        write_export(fmt, tmp_path / f"study.{fmt}", pseudonymiser=KEY)


def test_fhir_reads_a_fixed_number_of_queries_per_page_of_patients(
    case_at, tmp_path, monkeypatch, django_assert_num_queries
):
    for index in range(5):
        case_at("ab"[index % 2], f"TDM-F{index:03d}")
    monkeypatch.setattr(fhir, "PATIENT_PAGE", 2)
    # The count, then per page (2 + 2 + 1 patients) the patients and their treatments,
    # regimens, samples and adverse events, then the empty page that ends the reading.
    with django_assert_num_queries(1 + 3 * 5 + 1):
        write_export("fhir", tmp_path / "study.ndjson", pseudonymiser=KEY)


def test_the_cohort_file_reads_a_fixed_number_of_queries_per_batch(case_at, tmp_path, monkeypatch):
    for index in range(4):
        case_at("ab"[index % 2], f"TDM-J{index:03d}")
    monkeypatch.setattr(records, "BATCH_SIZE", 4)
    one_batch = count_queries(tmp_path, "one")
    monkeypatch.setattr(records, "BATCH_SIZE", 2)
    two_batches = count_queries(tmp_path, "two")
    monkeypatch.setattr(records, "BATCH_SIZE", 1)
    four_batches = count_queries(tmp_path, "four")
    per_batch = two_batches - one_batch
    assert per_batch > 0
    assert four_batches - two_batches == 2 * per_batch


def count_queries(tmp_path, name: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        write_export("json", tmp_path / f"{name}.json", pseudonymiser=KEY)
    return len(captured)
