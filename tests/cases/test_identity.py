"""A patient is registered once: study numbers and record numbers are the same whatever their
case and surrounding spaces (stored in capitals), in the pages, the API and the cohort import."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from cases import services
from cases.models import Patient
from study.cohort import import_cohort
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def test_a_study_number_is_stored_in_capitals_without_spaces(staff):
    patient = PatientFactory(actor=staff["nurse_a"], study_number="  tdm-0001 ")
    assert patient.study_number == "TDM-0001"


@pytest.mark.parametrize("again", ["tdm-0001", " TDM-0001", "Tdm-0001  "])
def test_the_same_study_number_in_other_case_is_refused(staff, again):
    PatientFactory(actor=staff["nurse_a"], study_number="TDM-0001")
    with pytest.raises(ValidationError) as refused:
        PatientFactory(actor=staff["nurse_a"], study_number=again)
    assert "study_number" in refused.value.message_dict
    assert Patient.objects.count() == 1


def test_a_record_number_is_one_patient_per_site_whatever_its_case(staff):
    PatientFactory(actor=staff["nurse_a"], study_number="TDM-0001", record_number="mrn-77")
    assert Patient.objects.get().record_number == "MRN-77"
    with pytest.raises(ValidationError) as refused:
        PatientFactory(actor=staff["nurse_a"], study_number="TDM-0002", record_number=" MRN-77 ")
    assert refused.value.message_dict
    assert Patient.objects.count() == 1


def test_the_api_refuses_a_lowercase_twin(api, staff):
    client = api("nurse_a")
    body = {"site": "SITEA", "sex": "F", "birth_year": 1960, "tumour": "hepatocellular carcinoma"}
    first = client.post("/api/v1/patients/", {**body, "study_number": "TDM-0009"}, format="json")
    assert first.status_code == 201, first.content
    twin = client.post("/api/v1/patients/", {**body, "study_number": "tdm-0009"}, format="json")
    assert twin.status_code == 400, twin.content
    assert "study_number" in twin.json()


def test_services_keep_an_upper_case_study_number_as_given(staff):
    patient = services.patient_create(
        actor=staff["nurse_a"],
        site=staff["nurse_a"].site_memberships.get().site,
        study_number="TDM-0100",
        sex="M",
        birth_year=1950,
        tumour="renal cell carcinoma",
    )
    assert patient.study_number == "TDM-0100"


def test_a_cohort_file_in_lower_case_is_the_same_patients(db):
    document = json.loads(
        (Path(__file__).parents[1] / "study" / "data" / "cohort_valid.json").read_text("utf-8")
    )
    import_cohort(document)
    numbers = sorted(Patient.objects.values_list("study_number", flat=True))
    shouted_down = copy.deepcopy(document)
    for patient in shouted_down["patients"]:
        patient["study_number"] = f"  {patient['study_number'].lower()} "
    again = import_cohort(shouted_down)
    assert again.imported == ()
    assert sorted(Patient.objects.values_list("study_number", flat=True)) == numbers
