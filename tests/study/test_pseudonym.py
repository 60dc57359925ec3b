"""Pseudonymised exports: keyed study numbers, one keyed date shift per patient, and nothing that
identifies a patient anywhere in the file."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import zoneinfo
from itertools import pairwise
from pathlib import Path

import pytest
from django.db import transaction

from advice.models import Advice
from cases.models import Sample
from study.cohort import import_cohort, iter_cohort_json, validate_cohort
from study.pseudonym import Pseudonymiser, PseudonymKeyError

VALID_FILE = Path(__file__).parent / "data" / "cohort_valid.json"
KEY = b"0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")
# Everything in the hand-written file that identifies a patient or is free text.
IDENTIFYING = (
    "Johannes Testpersoon",
    "MRN-778812",
    "Maria Voorbeeld",
    "MRN-100877",
    "Pieter Proef",
    "MRN-5521",
    "Vermeulen",
    "Kerkstraat",
    "gardening",
    "progressive disease",
    "prefers to stay",
)

EXPORTED_PATIENT_KEYS = {
    "study_number",
    "site",
    "sex",
    "birth_year",
    "tumour",
    "tumour_code",
    "treatments",
}


@pytest.fixture
def key_file(tmp_path) -> Path:
    path = tmp_path / "export.key"
    # A key file as `openssl rand -hex 32 > export.key` writes it: the newline is not key.
    path.write_bytes(KEY + b"\n")
    return path


def keyed() -> Pseudonymiser:
    return Pseudonymiser(key=KEY)


# The pseudonymiser on its own ---------------------------------------------------------------------


def test_study_numbers_are_keyed_hmac_pseudonyms():
    expected = "P" + hmac.new(KEY, b"TDM-0001", hashlib.sha256).hexdigest()[:16].upper()
    assert keyed().study_number("TDM-0001") == expected
    assert keyed().study_number("TDM-0001") == expected  # stable
    assert keyed().study_number("TDM-0002") != expected
    assert (
        Pseudonymiser(key=b"another key of at least 32 bytes").study_number("TDM-0001") != expected
    )


def test_offsets_are_keyed_non_zero_within_half_a_year_and_per_patient():
    offsets = [keyed().offset_days(f"TDM-{number:04d}") for number in range(2000)]
    assert all(-180 <= offset <= 180 and offset != 0 for offset in offsets)
    # Spread over the whole range, both directions.
    assert (min(offsets), max(offsets)) == (-180, 180)
    assert len(set(offsets)) == 360
    digest = hmac.new(KEY, b"date:TDM-0001", hashlib.sha256).digest()
    span = int.from_bytes(digest[:8], "big") % 360
    assert keyed().offset_days("TDM-0001") == (span - 180 if span < 180 else span - 179)


def test_dates_and_times_shift_by_the_patient_offset_keeping_time_of_day_and_utc_offset():
    offset = keyed().offset_days("TDM-0001")
    assert keyed().date("TDM-0001", datetime.date(2019, 3, 4)) == datetime.date(
        2019, 3, 4
    ) + datetime.timedelta(days=offset)
    # A summer time shifted into winter (or back) keeps +02:00: the hours between two moments
    # of the patient stay exact across daylight-saving changes.
    drawn = datetime.datetime(2019, 7, 1, 9, 10, tzinfo=AMSTERDAM)
    last_dose = datetime.datetime(2019, 6, 30, 21, 0, tzinfo=AMSTERDAM)
    shifted = keyed().datetime("TDM-0001", drawn)
    assert shifted.time() == drawn.time()
    assert shifted.utcoffset() == drawn.utcoffset()
    assert shifted - drawn == datetime.timedelta(days=offset)
    assert shifted - keyed().datetime("TDM-0001", last_dose) == drawn - last_dose
    assert keyed().date("TDM-0001", None) is None
    assert keyed().datetime("TDM-0001", None) is None


def test_the_birth_year_is_the_shifted_middle_of_the_year_which_stays_in_its_year():
    """2 July moved by at most 180 days never leaves its year: the year of birth is kept."""
    for number in range(500):
        study_number = f"TDM-{number:04d}"
        middle = keyed().date(study_number, datetime.date(1952, 7, 2))
        assert keyed().birth_year(study_number, 1952) == middle.year == 1952


def test_without_a_key_nothing_changes():
    internal = Pseudonymiser()
    moment = datetime.datetime(2019, 7, 1, 9, 10, tzinfo=AMSTERDAM)
    assert internal.study_number("TDM-0001") == "TDM-0001"
    assert internal.offset_days("TDM-0001") == 0
    assert internal.date("TDM-0001", datetime.date(2019, 3, 4)) == datetime.date(2019, 3, 4)
    assert internal.datetime("TDM-0001", moment) == moment
    assert internal.birth_year("TDM-0001", 1950) == 1950


def test_the_key_file_is_read_without_surrounding_whitespace(key_file):
    pseudonymiser = Pseudonymiser.from_key_file(key_file)
    assert pseudonymiser == Pseudonymiser(key=KEY)
    assert KEY.decode() not in repr(pseudonymiser)


def test_a_short_key_is_refused(tmp_path):
    short = tmp_path / "short.key"
    short.write_bytes(b"  " + b"x" * 31 + b"\n")
    with pytest.raises(PseudonymKeyError, match="has 31 bytes; at least 32 are needed"):
        Pseudonymiser.from_key_file(short)


def test_a_missing_key_file_is_refused(tmp_path):
    with pytest.raises(PseudonymKeyError, match="does not exist"):
        Pseudonymiser.from_key_file(tmp_path / "absent.key")


# Pseudonymised exports ---------------------------------------------------------------------------


def export(pseudonymiser: Pseudonymiser) -> tuple[str, dict]:
    text = "".join(iter_cohort_json(pseudonymiser=pseudonymiser))
    return text, json.loads(text)


def day(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


def moment(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text)


def dates_of(patient: dict) -> list[datetime.date]:
    """Every date of a patient in the export, in a fixed order."""
    found = []
    for treatment in patient["treatments"]:
        found += [day(treatment["start_date"])]
        found += [day(treatment["stop_date"])] if treatment["stop_date"] else []
        found += [day(dose["from"]) for dose in treatment["doses"]]
        for event in treatment["adverse_events"]:
            found += [day(event["onset"])] + ([day(event["resolved"])] if event["resolved"] else [])
    return found


def moments_of(patient: dict) -> list[datetime.datetime]:
    found = []
    for treatment in patient["treatments"]:
        for sample in treatment["samples"]:
            found += [moment(sample["drawn_at"]), moment(sample["last_dose_at"])]
        found += [moment(decision["sample_drawn_at"]) for decision in treatment["decisions"]]
    return found


def intervals(patient: dict) -> list[list[datetime.timedelta]]:
    """Per treatment: the days between dose changes and the time from last dose to draw."""
    return [
        [day(later["from"]) - day(earlier["from"]) for earlier, later in pairwise(t["doses"])]
        + [moment(s["drawn_at"]) - moment(s["last_dose_at"]) for s in t["samples"]]
        for t in patient["treatments"]
    ]


@pytest.mark.django_db
def test_a_keyed_export_shifts_every_date_of_a_patient_by_one_offset(key_file):
    import_cohort(json.loads(VALID_FILE.read_text(encoding="utf-8")))
    pseudonymiser = Pseudonymiser.from_key_file(key_file)
    _, internal = export(Pseudonymiser())
    _, shifted = export(pseudonymiser)

    pseudonyms = {pseudonymiser.study_number(p["study_number"]): p for p in internal["patients"]}
    assert [p["study_number"] for p in shifted["patients"]] == sorted(pseudonyms)
    offsets = set()
    for patient in shifted["patients"]:
        original = pseudonyms[patient["study_number"]]
        offset = datetime.timedelta(days=pseudonymiser.offset_days(original["study_number"]))
        offsets.add(offset)
        assert offset != datetime.timedelta(0)
        assert [d - offset for d in dates_of(patient)] == dates_of(original)
        for new, old in zip(moments_of(patient), moments_of(original), strict=True):
            assert new - old == offset
            assert (new.time(), new.utcoffset()) == (old.time(), old.utcoffset())
        assert patient["birth_year"] == original["birth_year"]
        # Intervals are the point of a shift: dose intervals and hours after the dose stay.
        assert intervals(patient) == intervals(original)
    assert len(offsets) == 3  # each patient has their own shift


@pytest.mark.django_db
def test_without_a_key_study_numbers_and_dates_are_as_recorded():
    document = json.loads(VALID_FILE.read_text(encoding="utf-8"))
    import_cohort(document)
    _, internal = export(Pseudonymiser())
    for exported, recorded in zip(internal["patients"], document["patients"], strict=True):
        assert exported["study_number"] == recorded["study_number"]
        assert dates_of(exported) == dates_of(recorded)
        assert moments_of(exported) == moments_of(recorded)


@pytest.mark.django_db
@pytest.mark.parametrize("with_key", [False, True], ids=["internal", "keyed"])
def test_no_export_holds_a_name_record_number_birth_date_or_free_text(key_file, with_key):
    import_cohort(json.loads(VALID_FILE.read_text(encoding="utf-8")))
    pseudonymiser = Pseudonymiser.from_key_file(key_file) if with_key else Pseudonymiser()

    text, document = export(pseudonymiser)

    for value in IDENTIFYING:
        assert value not in text
    for patient in document["patients"]:
        assert set(patient) <= EXPORTED_PATIENT_KEYS
        assert isinstance(patient["birth_year"], int)
    if with_key:
        assert "TDM-000" not in text


@pytest.mark.django_db
def test_a_keyed_export_is_a_cohort_file_that_gives_the_same_results(key_file):
    """Shifting every date of a patient alike changes no Ctrough and no advice."""
    pseudonymiser = Pseudonymiser.from_key_file(key_file)

    def results() -> list[tuple]:
        return list(
            Sample.objects.order_by("treatment__drug__name", "drawn_at").values_list(
                "hours_after_dose", "estimated_ctrough_ng_ml", "method", "evaluable"
            )
        ) + sorted(Advice.objects.values_list("kind", "action", "state"))

    with transaction.atomic():
        import_cohort(json.loads(VALID_FILE.read_text(encoding="utf-8")))
        original = results()
        _, shifted = export(pseudonymiser)
        transaction.set_rollback(True)

    assert validate_cohort(shifted) == []
    import_cohort(shifted)
    assert results() == original
