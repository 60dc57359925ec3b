"""No export carries a patient's identity (docs/data-dictionary.md, "Pseudonymisation"): names,
record numbers, full birth dates and identifying free text are absent from every byte of every
format, zips and workbook parts unpacked. With a key, the study numbers appear only as
pseudonyms and dates are shifted."""

from __future__ import annotations

import datetime
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from advice import services as advice_services
from advice.models import Advice
from cases import services
from cases.models import DoseRegimen
from study.export import FORMATS, write_export
from study.pseudonym import Pseudonymiser
from tests.factories import (
    DEMO_PASSWORD,
    AdverseEventFactory,
    DoseRegimenFactory,
    PatientFactory,
    SampleFactory,
    TreatmentFactory,
    local_datetime,
)

pytestmark = pytest.mark.django_db

PATIENTS = [
    # study number, name, record number, birth year, site letter
    ("TDM-ZQH-0001", "Zebedee Quinlan-Hartmann", "MRN-ZQH-99172", 1947, "a"),
    ("TDM-OFV-0002", "Ottoline Fairweather-Vance", "MRN-OFV-40417", 1953, "b"),
]
FREE_TEXT = {
    "stop_reason": "moved in with the Quinlan-Hartmann family at Larkspur Mews",
    "other_specify": "rash after gardening with Zebedee's grandson Peregrine",
    "lab_accession": "ACC-ZQH-31337",
    "cancel_reason": "Mr Quinlan-Hartmann declined the draw",
    "off_label_reason": "requested by Dr Pemberton-Quaile",
    "advice_text": "Discussed with Ottoline by phone on her mobile",
    "rejection_reason": "Fairweather-Vance prefers to wait for the scan",
}
NEEDLES = [
    "Zebedee",
    "Quinlan",
    "Hartmann",
    "MRN-ZQH-99172",
    "99172",
    "Ottoline",
    "Fairweather",
    "MRN-OFV-40417",
    "40417",
    "Larkspur",
    "Peregrine",
    "31337",
    "Pemberton",
    "by phone",
]
# The recorded dates of the seeded care (62 days from first to last): with a key none of them
# may appear in an export.
RAW_DATES = [
    "2024-01-08", "2024-01-20", "2024-02-04", "2024-02-05", "2024-02-12", "2024-03-01",
    "2024-03-10",
]  # fmt: skip
RAW_SPAN_DAYS = 62
# Shifts both patients by more than that span (-116 and -118 days), so a shifted date cannot
# equal a recorded one by chance.
KEY = b"identity-test-key-19-0123456789abcdef"
EXTENSION = {"csv": "zip", "xlsx": "xlsx", "json": "json", "fhir": "ndjson"}


@pytest.fixture
def identified_cohort(staff, sorafenib, django_capture_on_commit_callbacks):
    """Two patients with distinctive names and record numbers, and identifying free text in
    every free-text field the data model has."""
    for study_number, name, record_number, birth_year, letter in PATIENTS:
        nurse = staff[f"nurse_{letter}"]
        with django_capture_on_commit_callbacks(execute=True):
            patient = PatientFactory(
                actor=nurse,
                site=nurse.site_memberships.get().site,
                study_number=study_number,
                birth_year=birth_year,
                name=name,
                record_number=record_number,
            )
            treatment = TreatmentFactory(
                actor=nurse, patient=patient, drug=sorafenib, start_date=datetime.date(2024, 1, 8)
            )
            SampleFactory(
                actor=nurse,
                treatment=treatment,
                drawn_at=local_datetime("2024-02-05 09:00"),
                last_dose_at=local_datetime("2024-02-04 21:00"),
                lab_accession=FREE_TEXT["lab_accession"],
            )
            AdverseEventFactory(
                actor=nurse,
                treatment=treatment,
                term="Skin and subcutaneous tissue disorders - Other, specify",
                grade=1,
                onset=datetime.date(2024, 1, 20),
                other_specify=FREE_TEXT["other_specify"],
            )
        DoseRegimenFactory(
            actor=nurse,
            treatment=treatment,
            effective_from=datetime.date(2024, 2, 12),
            daily_dose_mg=Decimal(700),
            administrations_per_day=2,
            reason=DoseRegimen.Reason.OTHER,
            off_label_reason=FREE_TEXT["off_label_reason"],
        )
        drawn = SampleFactory(
            actor=nurse,
            treatment=treatment,
            drawn_at=local_datetime("2024-03-01 09:00"),
            last_dose_at=None,
            concentration=None,
        )
        services.sample_cancel(actor=nurse, sample=drawn, reason=FREE_TEXT["cancel_reason"])
        advice = Advice.objects.get(treatment=treatment, kind=Advice.Kind.SAMPLE)
        advice_services.advice_release(
            actor=staff[f"pharmacist_{letter}"], advice=advice, text=FREE_TEXT["advice_text"]
        )
        advice_services.advice_reject(
            actor=staff[f"physician_{letter}"],
            advice=advice,
            password=DEMO_PASSWORD,
            reason=FREE_TEXT["rejection_reason"],
        )
        services.treatment_stop(
            actor=nurse,
            treatment=treatment,
            stop_date=datetime.date(2024, 3, 10),
            reason=FREE_TEXT["stop_reason"],
        )


def every_byte(path: Path) -> bytes:
    """The file's content, with every member of a zip (CSV export, XLSX parts) unpacked."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return b"\n".join(archive.read(name) for name in archive.namelist())
    return path.read_bytes()


def export_all(folder: Path, pseudonymiser: Pseudonymiser) -> dict[str, bytes]:
    folder.mkdir()
    return {
        fmt: every_byte(
            write_export(fmt, folder / f"study.{EXTENSION[fmt]}", pseudonymiser=pseudonymiser).path
        )
        for fmt in FORMATS
    }


def full_birth_dates(content: bytes, year: int) -> list[bytes]:
    pattern = rf"{year}-\d\d-\d\d|\d\d[-/.]\d\d[-/.]{year}|{year}\d{{4}}\b".encode()
    return re.findall(pattern, content)


@pytest.mark.parametrize("key", [None, KEY], ids=["internal", "with key"])
def test_no_name_record_number_birth_date_or_free_text_in_any_byte(
    identified_cohort, tmp_path, key
):
    exports = export_all(tmp_path / "exports", Pseudonymiser(key=key))
    for fmt, content in exports.items():
        text = content.lower()
        found = [needle for needle in NEEDLES if needle.lower().encode() in text]
        assert found == [], f"{fmt} export contains {found}"
        for free_text in FREE_TEXT.values():
            assert free_text.lower().encode() not in text, fmt
        for _, _, _, birth_year, _ in PATIENTS:
            assert full_birth_dates(content, birth_year) == [], fmt


def test_the_seeded_identity_is_really_in_the_database(identified_cohort):
    """Guards the test above: it only means something if the needles were stored."""
    from cases.models import AdverseEvent, Patient, Sample, Treatment

    assert Patient.objects.filter(name=PATIENTS[0][1], record_number=PATIENTS[0][2]).exists()
    assert Treatment.objects.filter(stop_reason=FREE_TEXT["stop_reason"]).count() == 2
    assert AdverseEvent.objects.filter(other_specify=FREE_TEXT["other_specify"]).count() == 2
    assert Sample.objects.filter(lab_accession=FREE_TEXT["lab_accession"]).count() == 2
    assert Sample.objects.filter(cancel_reason=FREE_TEXT["cancel_reason"]).count() == 2
    assert DoseRegimen.objects.filter(off_label_reason=FREE_TEXT["off_label_reason"]).count() == 2
    assert (
        Advice.objects.filter(
            text=FREE_TEXT["advice_text"], rejection_reason=FREE_TEXT["rejection_reason"]
        ).count()
        == 2
    )


def test_without_a_key_study_numbers_and_dates_are_the_recorded_ones(identified_cohort, tmp_path):
    exports = export_all(tmp_path / "exports", Pseudonymiser())
    for fmt, content in exports.items():
        for study_number, *_ in PATIENTS:
            assert study_number.encode() in content, fmt
        if fmt != "xlsx":
            assert b"2024-01-08" in content, fmt


def test_with_a_key_study_numbers_appear_only_pseudonymised_and_dates_shifted(
    identified_cohort, tmp_path
):
    pseudonymiser = Pseudonymiser(key=KEY)
    assert all(abs(pseudonymiser.offset_days(p[0])) > RAW_SPAN_DAYS for p in PATIENTS)
    exports = export_all(tmp_path / "exports", pseudonymiser)
    for fmt, content in exports.items():
        for study_number, *_ in PATIENTS:
            assert study_number.encode() not in content, fmt
            assert pseudonymiser.study_number(study_number).encode() in content, fmt
        if fmt == "xlsx":
            continue
        # Excel stores dates as numbers; the text formats write them out.
        assert [day for day in RAW_DATES if day.encode() in content] == [], fmt
        for study_number, *_ in PATIENTS:
            start = pseudonymiser.date(study_number, datetime.date(2024, 1, 8))
            assert start.isoformat().encode() in content, fmt

    workbook = load_workbook(tmp_path / "exports" / "study.xlsx")
    sheet = workbook["treatments"]
    header = [cell.value for cell in sheet[1]]
    starts = {
        row[header.index("study_number")]: row[header.index("start_date")]
        for row in sheet.iter_rows(min_row=2, values_only=True)
    }
    assert starts == {
        pseudonymiser.study_number(study_number): datetime.datetime.combine(
            pseudonymiser.date(study_number, datetime.date(2024, 1, 8)), datetime.time()
        )
        for study_number, *_ in PATIENTS
    }
