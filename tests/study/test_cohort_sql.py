"""The cohort file written by PostgreSQL is, byte for byte, the one written in Python."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from pathlib import Path

import pytest

from cases.models import Patient, Sample
from study.cohort import documents_sql, import_cohort, iter_cohort_json, records
from study.pseudonym import Pseudonymiser

VALID_FILE = Path(__file__).parent / "data" / "cohort_valid.json"
EXPORTED_AT = datetime.datetime(2024, 6, 1, 12, 0, tzinfo=datetime.UTC)
KEYED = Pseudonymiser(key=b"k" * 32)


def both_ways(monkeypatch, pseudonymiser: Pseudonymiser) -> tuple[str, str]:
    def text() -> str:
        return "".join(iter_cohort_json(pseudonymiser=pseudonymiser, exported_at=EXPORTED_AT))

    in_sql = text()
    monkeypatch.setattr(documents_sql, "writes_in_sql", lambda: False)
    return in_sql, text()


@pytest.fixture
def cohort(postgresql, settings):
    # A zone with daylight saving: offsets differ within a patient.
    settings.TIME_ZONE = "Europe/Amsterdam"
    import_cohort(json.loads(VALID_FILE.read_text(encoding="utf-8")))
    patient = Patient.objects.order_by("pk").first()
    Patient.objects.filter(pk=patient.pk).update(tumour='Tumeur "maligne" \\ de l\'œil\n\tß')
    sample = Sample.objects.filter(treatment__patient=patient).order_by("pk").first()
    sample.drawn_at = sample.drawn_at.replace(microsecond=120)
    sample.analytes = {"zeta": 12.5, "alpha": 3.0, "mid": 100, "ünï": 0.0001}
    sample.save()


@pytest.mark.parametrize("pseudonymiser", [Pseudonymiser(), KEYED], ids=["internal", "keyed"])
def test_postgresql_writes_the_bytes_of_python(cohort, monkeypatch, pseudonymiser):
    in_sql, in_python = both_ways(monkeypatch, pseudonymiser)

    assert in_sql == in_python
    assert '"analytes": {"alpha": 3, "mid": 100, "zeta": 12.5, "ünï": 0.0001}' in in_sql


@pytest.mark.parametrize(
    "analytes",
    [{"tiny": 0.00001}, {"long": 0.1234567890123456}, {"huge": 1e20}, {"text": "1.5"}],
    ids=["tiny", "long", "huge", "text"],
)
def test_analytes_a_float_writes_otherwise_are_written_in_python(cohort, monkeypatch, analytes):
    monkeypatch.setattr(records, "BATCH_SIZE", 1)
    sample = Sample.objects.order_by("pk").last()
    sample.analytes = analytes
    sample.save()

    in_sql, in_python = both_ways(monkeypatch, KEYED)

    assert in_sql == in_python
    assert json.loads(in_sql)["patients"]


def test_decimals_are_written_as_json_numbers(cohort, monkeypatch):
    Sample.objects.filter(concentration__isnull=False).update(concentration=Decimal("0.0001"))

    in_sql, in_python = both_ways(monkeypatch, Pseudonymiser())

    assert in_sql == in_python
    assert '"concentration": 0.0001' in in_sql
