"""The cohort export (docs/cohort-format.md §4): exactly the import format, deterministic,
streamed in batches; an export imported into an empty database exports to the same document."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from django.apps import apps
from django.db import connection, transaction

from advice.models import Advice
from cases.models import Patient, Sample
from study.cohort import (
    exporter,
    import_cohort,
    iter_cohort_json,
    records,
    validate_cohort,
    write_cohort_json,
)
from study.pseudonym import Pseudonymiser

VALID_FILE = Path(__file__).parent / "data" / "cohort_valid.json"
INTERNAL = Pseudonymiser()
EXPORTED_AT = datetime.datetime(2024, 6, 1, 12, 0, tzinfo=datetime.UTC)


def valid_document() -> dict:
    return json.loads(VALID_FILE.read_text(encoding="utf-8"))


def export_text(**kwargs) -> str:
    return "".join(iter_cohort_json(pseudonymiser=kwargs.pop("pseudonymiser", INTERNAL), **kwargs))


def export() -> dict:
    return json.loads(export_text())


def row_counts() -> dict[str, int]:
    """Rows of every model of the clinical app, the audit trail included."""
    return {
        model._meta.label: model.objects.count()
        for model in apps.get_app_config("cases").get_models()
    }


def without_timestamp(document: dict) -> dict:
    return {key: value for key, value in document.items() if key != "exported_at"}


@pytest.mark.django_db
def test_the_export_is_the_imported_file_without_identity_or_free_text():
    import_cohort(valid_document())
    expected = valid_document()
    for patient in expected["patients"]:
        del patient["name"], patient["record_number"]
        for treatment in patient["treatments"]:
            treatment["stop_reason"] = None
            for dose in treatment["doses"]:
                if "off_label_reason" in dose:
                    dose["off_label_reason"] = "withheld from the export"
            for event in treatment["adverse_events"]:
                event.pop("other_specify", None)
            for decision in treatment["decisions"]:
                if decision["reason"] is not None:
                    decision["reason"] = "withheld from the export"

    exported = export()

    assert list(exported) == ["format", "exported_at", "sites", "patients"]
    assert without_timestamp(exported) == without_timestamp(expected)


@pytest.mark.django_db
def test_numbers_and_times_are_written_as_stored():
    import_cohort(valid_document())
    text = export_text(exported_at=EXPORTED_AT)
    assert '"exported_at": "2024-06-01T14:00:00+02:00"' in text
    assert '"concentration": 2870, ' in text
    assert '"concentration": 1.32, "unit": "µg/mL"' in text
    assert '"concentration": 25.5, ' in text
    assert '"daily_dose_mg": 400, ' in text
    assert '"birth_year": 1950, ' in text
    # The installation's own UTC offset at each moment (Europe/Amsterdam in summer and winter).
    assert '"drawn_at": "2020-02-03T10:00:00+01:00"' in text
    assert '"drawn_at": "2019-04-01T09:10:00+02:00"' in text


@pytest.mark.django_db
def test_two_exports_of_the_same_data_differ_in_the_timestamp_only():
    import_cohort(valid_document())
    first = export_text(exported_at=EXPORTED_AT)
    second = export_text(exported_at=EXPORTED_AT)
    later = export()

    assert first == second
    assert without_timestamp(json.loads(first)) == without_timestamp(later)
    assert later["exported_at"] != json.loads(first)["exported_at"]


@pytest.mark.django_db
def test_the_order_of_the_export_does_not_depend_on_the_order_of_entry():
    with transaction.atomic():
        import_cohort(valid_document())
        in_file_order = export_text(exported_at=EXPORTED_AT)
        transaction.set_rollback(True)
    document = valid_document()
    # Entered in another order (doses, a history, stay in date order): the export orders sites
    # by code, patients by study number, the rest by date.
    document["sites"].reverse()
    document["patients"].reverse()
    for patient in document["patients"]:
        for treatment in patient["treatments"]:
            for key in ("samples", "adverse_events", "decisions"):
                treatment[key].reverse()
    import_cohort(document)

    assert export_text(exported_at=EXPORTED_AT) == in_file_order
    ordered = json.loads(in_file_order)
    assert [p["study_number"] for p in ordered["patients"]] == ["TDM-0001", "TDM-0002", "TDM-0003"]
    assert [s["code"] for s in ordered["sites"]] == ["SITE1", "SITE2"]


@pytest.mark.django_db
def test_round_trip_into_an_empty_database():
    """Import the file, export A; roll the database back to empty; import A, export B: A == B."""
    with transaction.atomic():
        import_cohort(valid_document())
        first = export()
        transaction.set_rollback(True)
    assert not Patient.objects.exists()

    assert validate_cohort(first) == []
    result = import_cohort(first)
    second = export()

    assert result.imported == ("TDM-0001", "TDM-0002", "TDM-0003")
    assert without_timestamp(second) == without_timestamp(first)
    # Advice is computed again from the same data, decisions included.
    assert sorted(Advice.objects.filter(kind="sample").values_list("state", flat=True)) == sorted(
        ["accepted", "rejected", "draft", "superseded", "superseded", "draft", "draft"]
    )


@pytest.mark.django_db
def test_re_importing_an_export_over_its_own_data_changes_nothing():
    import_cohort(valid_document())
    counts = row_counts()
    result = import_cohort(export())
    assert result.unchanged == ("TDM-0001", "TDM-0002", "TDM-0003")
    assert row_counts() == counts


@pytest.mark.django_db
def test_cancelled_samples_and_their_decisions_are_not_exported():
    import_cohort(valid_document())
    accepted = Advice.objects.get(state="accepted")
    Sample.objects.filter(pk=accepted.sample_id).update(
        status=Sample.Status.CANCELLED, cancel_reason="wrong patient"
    )
    treatment = export()["patients"][0]["treatments"][0]
    assert len(treatment["samples"]) == 2
    assert [d["decision"] for d in treatment["decisions"]] == ["rejected"]
    assert validate_cohort(export()) == []


@pytest.mark.django_db
def test_the_export_streams_in_batches_with_a_fixed_number_of_queries(
    monkeypatch, django_assert_num_queries
):
    import_cohort(valid_document())
    monkeypatch.setattr(records, "BATCH_SIZE", 2)
    progress: list[tuple[int, int]] = []

    # Sites and the patient list, then a fixed number per batch however many patients it holds:
    # on PostgreSQL the documents built by one query (with the session's time zone read, set and
    # restored around it), elsewhere 6 (patients with sites, treatments with drugs, regimens,
    # samples, adverse events, decided advice).
    per_batch = 4 if connection.vendor == "postgresql" else 6
    with django_assert_num_queries(2 + per_batch * 2):
        chunks = list(
            iter_cohort_json(pseudonymiser=INTERNAL, progress=lambda *p: progress.append(p))
        )

    assert progress == [(0, 3), (2, 3), (3, 3)]
    assert len(chunks) == 1 + 3 + 1  # header, one chunk per patient, end
    assert len(json.loads("".join(chunks))["patients"]) == 3


@pytest.mark.django_db
def test_an_empty_installation_exports_a_valid_empty_cohort():
    document = export()
    assert (document["sites"], document["patients"]) == ([], [])
    assert validate_cohort(document) == []


@pytest.mark.django_db
def test_write_cohort_json_replaces_the_file_whole(tmp_path):
    import_cohort(valid_document())
    target = tmp_path / "cohort.json"
    target.write_text("an older export")
    seen: list[tuple[int, int]] = []

    written = write_cohort_json(
        target, pseudonymiser=INTERNAL, exported_at=EXPORTED_AT, progress=lambda *p: seen.append(p)
    )

    assert written == 3
    assert seen[-1] == (3, 3)
    assert target.read_text(encoding="utf-8") == export_text(exported_at=EXPORTED_AT)
    assert [path.name for path in tmp_path.iterdir()] == ["cohort.json"]


@pytest.mark.django_db
def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    import_cohort(valid_document())
    target = tmp_path / "cohort.json"
    target.write_text("an older export")

    def broken(*args, **kwargs):
        yield "{"
        raise RuntimeError("database went away")

    monkeypatch.setattr(exporter, "iter_cohort_json", broken)
    with pytest.raises(RuntimeError):
        write_cohort_json(target, pseudonymiser=INTERNAL)

    assert target.read_text() == "an older export"
    assert [path.name for path in tmp_path.iterdir()] == ["cohort.json"]


@pytest.mark.django_db
def test_per_analyte_results_survive_the_round_trip():
    sunitinib = {
        "study_number": "TDM-0004",
        "site": "SITE2",
        "sex": "F",
        "birth_year": 1966,
        "tumour": "renal cell carcinoma",
        "treatments": [
            {
                "drug": "sunitinib",
                "indication": "intermittent",
                "start_date": "2022-03-07",
                "doses": [
                    {
                        "from": "2022-03-07",
                        "daily_dose_mg": 50,
                        "administrations_per_day": 1,
                        "reason": "start",
                    }
                ],
                "samples": [
                    {
                        "drawn_at": "2022-03-28T09:00:00+02:00",
                        "last_dose_at": "2022-03-27T09:00:00+02:00",
                        "concentration": 42.75,
                        "unit": "ng/mL",
                        "below_lloq": False,
                        "analytes": {"sunitinib": 30.5, "SU12662": 12.25},
                    }
                ],
            }
        ],
    }
    document = valid_document()
    document["patients"].append(sunitinib)
    with transaction.atomic():
        import_cohort(document)
        first = export()
        transaction.set_rollback(True)

    assert first["patients"][3]["treatments"][0]["samples"][0]["analytes"] == {
        "SU12662": 12.25,
        "sunitinib": 30.5,
    }
    import_cohort(first)
    assert without_timestamp(export()) == without_timestamp(first)
