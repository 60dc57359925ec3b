"""Withdrawn and entered-in-error regimens (docs/workflow.md §5) count for nothing in the study
figures and the tables, and the cohort file keeps them with their status."""

from __future__ import annotations

import copy
import datetime
import json
from pathlib import Path

import pytest
from django.db import transaction

from advice.models import Advice
from cases import roles, services
from cases.models import DoseRegimen, Treatment
from study.cohort import CohortInvalid, import_cohort, iter_cohort_json, validate_cohort
from study.pseudonym import Pseudonymiser
from study.summary import study_summary, study_summary_by_drug
from study.tables import DOSES
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

VALID_FILE = Path(__file__).parent / "data" / "cohort_valid.json"


def document_with_retired_doses() -> dict:
    document = json.loads(VALID_FILE.read_text(encoding="utf-8"))
    doses = document["patients"][0]["treatments"][0]["doses"]
    # The escalation planned for 2019-04-15 was withdrawn and a different dose given that day;
    # a 200 mg/day entry of 2019-05-01 was a typing error.
    doses[1:1] = [
        {
            "from": "2019-04-15",
            "daily_dose_mg": 800,
            "administrations_per_day": 2,
            "reason": "tdm_advice",
            "status": "withdrawn",
            "status_reason": "superseded by the interruption",
        },
    ]
    doses.insert(
        3,
        {
            "from": "2019-05-01",
            "daily_dose_mg": 200,
            "administrations_per_day": 1,
            "reason": "other",
            "status": "entered_in_error",
            "status_reason": "typed on the wrong patient",
        },
    )
    return document


def _export() -> dict:
    return json.loads("".join(iter_cohort_json(pseudonymiser=Pseudonymiser())))


def test_retired_doses_are_imported_for_the_record_and_count_for_nothing():
    import_cohort(document_with_retired_doses())

    treatment = Treatment.objects.get(patient__study_number="TDM-0001")
    statuses = list(
        treatment.regimens.order_by("effective_from", "pk").values_list(
            "effective_from", "daily_dose_mg", "status"
        )
    )
    assert [(str(day), int(mg), status) for day, mg, status in statuses] == [
        ("2019-03-04", 400, "active"),
        ("2019-04-15", 800, "withdrawn"),
        ("2019-04-15", 600, "active"),
        ("2019-05-01", 200, "entered_in_error"),
        ("2019-05-21", 0, "active"),
        ("2019-06-03", 400, "active"),
    ]
    assert [int(step.daily_dose_mg) for step in treatment.dose_history()] == [400, 600, 0, 400]
    rows = list(DOSES.read(DOSES.queryset(), Pseudonymiser()))
    exported = [row for row in rows if row[1] == treatment.pk]
    assert [int(row[5]) for row in exported] == [400, 600, 0, 400]


def test_the_cohort_file_keeps_retired_doses_with_their_status_but_not_their_reason():
    with transaction.atomic():
        import_cohort(document_with_retired_doses())
        first = _export()
        transaction.set_rollback(True)

    doses = first["patients"][0]["treatments"][0]["doses"]
    retired = [dose for dose in doses if "status" in dose]
    assert [(d["from"], d["status"], d["status_reason"]) for d in retired] == [
        ("2019-04-15", "withdrawn", "withheld from the export"),
        ("2019-05-01", "entered_in_error", "withheld from the export"),
    ]
    assert validate_cohort(first) == []
    import_cohort(first)
    assert {k: v for k, v in _export().items() if k != "exported_at"} == {
        k: v for k, v in first.items() if k != "exported_at"
    }
    assert DoseRegimen.objects.exclude(status="active").count() == 2


@pytest.mark.parametrize(
    ("change", "location"),
    [
        ({"status_reason": None}, "status_reason"),
        ({"status": "deleted"}, "status"),
    ],
)
def test_a_retired_dose_needs_a_known_status_and_its_reason(change, location):
    document = document_with_retired_doses()
    document["patients"][0]["treatments"][0]["doses"][1].update(change)

    problems = validate_cohort(copy.deepcopy(document))

    assert any(location in problem.path for problem in problems), problems


def test_the_start_dose_cannot_be_withdrawn_in_a_file():
    document = document_with_retired_doses()
    start = document["patients"][0]["treatments"][0]["doses"][0]
    start.update({"status": "withdrawn", "status_reason": "x"})

    problems = validate_cohort(document)

    assert any(problem.path.endswith("doses[0].status") for problem in problems), problems


def test_a_confirmed_implausible_sample_survives_the_round_trip():
    document = json.loads(VALID_FILE.read_text(encoding="utf-8"))
    sample = document["patients"][0]["treatments"][0]["samples"][0]
    sample["concentration"] = 900_000
    with pytest.raises(CohortInvalid) as refused:
        import_cohort(copy.deepcopy(document))
    assert any("samples[0]" in problem.path for problem in refused.value.errors)
    sample["confirmed_implausible"] = True

    with transaction.atomic():
        import_cohort(document)
        first = _export()
        transaction.set_rollback(True)

    exported = first["patients"][0]["treatments"][0]["samples"][0]
    assert exported["confirmed_implausible"] is True
    import_cohort(first)
    assert {k: v for k, v in _export().items() if k != "exported_at"} == {
        k: v for k, v in first.items() if k != "exported_at"
    }


def _second_sorafenib_course(document: dict) -> dict:
    """A second sorafenib course of the first patient, from 2019-05-01 while the first goes on."""
    treatments = document["patients"][0]["treatments"]
    treatments.append(
        {
            "drug": "sorafenib",
            "indication": None,
            "start_date": "2019-05-01",
            "stop_date": None,
            "stop_reason": None,
            "doses": [
                {
                    "from": "2019-05-01",
                    "daily_dose_mg": 400,
                    "administrations_per_day": 2,
                    "reason": "start",
                }
            ],
        }
    )
    return treatments[-1]


def test_an_overlapping_second_course_needs_its_reason_and_keeps_it_out_of_the_export():
    document = json.loads(VALID_FILE.read_text(encoding="utf-8"))
    second = _second_sorafenib_course(document)
    with pytest.raises(CohortInvalid) as refused:
        import_cohort(copy.deepcopy(document))
    assert any("treatments[1]" in problem.path for problem in refused.value.errors)
    assert not Treatment.objects.exists()
    second["overlap_reason"] = "second course intended by the oncologist"

    with transaction.atomic():
        import_cohort(document)
        stored = set(Treatment.objects.values_list("overlap_reason", flat=True))
        first = _export()
        transaction.set_rollback(True)

    assert stored == {"", "second course intended by the oncologist"}
    exported = first["patients"][0]["treatments"]
    assert [treatment.get("overlap_reason") for treatment in exported] == [
        None,
        "withheld from the export",
    ]
    import_cohort(first)
    assert {k: v for k, v in _export().items() if k != "exported_at"} == {
        k: v for k, v in first.items() if k != "exported_at"
    }


AS_OF = datetime.date(2020, 1, 1)


def test_retired_doses_leave_every_study_figure_as_it_was():
    """The withdrawn 800 mg/day tdm_advice escalation is no TDM intervention, and neither
    retired dose counts in the dose intensity or the phase of a sample."""
    with transaction.atomic():
        import_cohort(json.loads(VALID_FILE.read_text(encoding="utf-8")))
        without = study_summary_by_drug(as_of=AS_OF)
        transaction.set_rollback(True)

    import_cohort(document_with_retired_doses())

    assert study_summary_by_drug(as_of=AS_OF) == without


def test_the_rejected_advice_of_a_cancelled_sample_is_not_counted():
    """A cancelled sample is left out of every study figure, its rejected advice too."""
    import_cohort(json.loads(VALID_FILE.read_text(encoding="utf-8")))
    assert study_summary(as_of=AS_OF)["advice_rejected"] == 1
    rejected = Advice.objects.get(state=Advice.State.REJECTED)
    nurse = UserFactory(role=roles.NURSE, sites=[rejected.treatment.patient.site])

    services.sample_cancel(actor=nurse, sample=rejected.sample, reason="haemolysed, found later")

    assert study_summary(as_of=AS_OF)["advice_rejected"] == 0
    assert study_summary_by_drug(as_of=AS_OF)["sorafenib"]["advice_rejected"] == 0
