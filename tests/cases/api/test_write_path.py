"""The core write path of docs/api.md with its fixed field names, from patient to dose change."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from cases.models import AuditEvent, Drug

pytestmark = pytest.mark.django_db

API = "/api/v1"
ROLES = [
    *(
        f"{role}_{site}"
        for role in ("nurse", "pharmacist", "physician", "datamanager")
        for site in "ab"
    ),
    "admin",
]


def post(client: APIClient, resource: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"{API}/{resource}/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def new_audit_events(since_id: int) -> list[tuple[str, str, str, str]]:
    return sorted(
        (event.action, event.model, event.object_id, event.actor_username)
        for event in AuditEvent.objects.filter(id__gt=since_id)
    )


def last_audit_id() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def patient_body(study_number: str = "TDM-0101") -> dict[str, Any]:
    return {
        "study_number": study_number,
        "site": "SITEA",
        "sex": "F",
        "birth_year": 1958,
        "tumour": "hepatocellular carcinoma",
        "name": "Anna de Wit",
        "record_number": "MRN-778",
        "treating_physician": "physician_a",
        "responsible_nurse": "nurse_a",
    }


def treatment_body(study_number: str = "TDM-0101") -> dict[str, Any]:
    return {
        "patient": study_number,
        "drug": "sorafenib",
        "indication": "",
        "start_date": "2024-01-08",
        "daily_dose_mg": 600,
        "administrations_per_day": 2,
    }


@pytest.fixture
def nurse(api) -> APIClient:
    return api("nurse_a")


@pytest.fixture
def treatment(nurse) -> dict[str, Any]:
    post(nurse, "patients", patient_body())
    return post(nurse, "treatments", treatment_body())


def test_patient_create(nurse, staff):
    since = last_audit_id()

    patient = post(nurse, "patients", patient_body())

    assert isinstance(patient["id"], int)
    assert patient["study_number"] == "TDM-0101"
    assert patient["site"] == "SITEA"
    assert (patient["sex"], patient["birth_year"]) == ("F", 1958)
    assert patient["treating_physician"] == "physician_a"
    assert patient["responsible_nurse"] == "nurse_a"
    assert (patient["name"], patient["record_number"]) == ("Anna de Wit", "MRN-778")
    assert nurse.get(f"{API}/patients/{patient['id']}/").json() == patient
    assert new_audit_events(since) == [("create", "cases.patient", str(patient["id"]), "nurse_a")]
    event = AuditEvent.objects.get(id__gt=since)
    assert event.actor == staff["nurse_a"]
    assert event.site.code == "SITEA"
    # The trail is read by data managers: identity is recorded as present, never spelt out.
    assert event.after["name"] == "(set)"
    assert event.after["record_number"] == "(set)"
    assert event.after["study_number"] == "TDM-0101"


def test_treatment_create_answers_with_dose_history_phase_and_status(nurse):
    post(nurse, "patients", patient_body())
    since = last_audit_id()

    treatment = post(nurse, "treatments", treatment_body())

    assert isinstance(treatment["id"], int)
    assert treatment["patient"] == "TDM-0101"
    assert treatment["drug"] == "sorafenib"
    assert treatment["indication"] is None
    assert treatment["start_date"] == "2024-01-08"
    assert treatment["current_daily_dose_mg"] == 600
    assert treatment["current_administrations_per_day"] == 2
    assert treatment["phase"] == "step_up"  # 600 mg/day is below sorafenib's standard 800
    assert treatment["status"] == "active"
    [regimen] = treatment["regimens"]
    assert regimen["effective_from"] == "2024-01-08"
    assert regimen["daily_dose_mg"] == 600
    assert regimen["administrations_per_day"] == 2
    assert regimen["split_mg"] == [400, 200]
    assert regimen["reason"] == "start"
    assert regimen["treatment"] == treatment["id"]
    assert nurse.get(f"{API}/treatments/{treatment['id']}/").json() == treatment
    assert new_audit_events(since) == [
        ("create", "cases.doseregimen", str(regimen["id"]), "nurse_a"),
        ("create", "cases.treatment", str(treatment["id"]), "nurse_a"),
    ]


def test_treatment_with_an_indication(nurse):
    post(nurse, "patients", patient_body())
    body = {
        **treatment_body(),
        "drug": "imatinib",
        "indication": "gist",
        "daily_dose_mg": 400,
        "administrations_per_day": 1,
    }

    treatment = post(nurse, "treatments", body)

    assert (treatment["drug"], treatment["indication"]) == ("imatinib", "gist")
    assert treatment["phase"] == "maintenance"  # 400 mg/day is imatinib's standard dose
    assert treatment["regimens"][0]["split_mg"] == [400]


def test_sample_taken_at_trough_is_measured(nurse, treatment):
    since = last_audit_id()

    sample = post(
        nurse,
        "samples",
        {
            "treatment": treatment["id"],
            "drawn_at": "2024-02-05T09:00:00+01:00",
            "last_dose_at": "2024-02-04T21:00:00+01:00",
            "concentration": 2870,
            "unit": "ng/mL",
            "below_lloq": False,
        },
    )

    assert isinstance(sample["id"], int)
    assert sample["treatment"] == treatment["id"]
    assert sample["status"] == "resulted"
    assert sample["hours_after_dose"] == 12  # = tau for twice daily: a true trough
    assert sample["method"] == "measured"
    assert sample["ctrough_ng_ml"] == 2870
    assert sample["evaluable"] is True
    assert sample["reasons"] == []
    assert (sample["daily_dose_mg"], sample["administrations_per_day"]) == (600, 2)
    assert nurse.get(f"{API}/samples/{sample['id']}/").json() == sample
    assert new_audit_events(since) == [("create", "cases.sample", str(sample["id"]), "nurse_a")]


def test_sample_in_micrograms_per_millilitre_is_stored_in_ng_per_ml(nurse, treatment):
    sample = post(
        nurse,
        "samples",
        {
            "treatment": treatment["id"],
            "drawn_at": "2024-02-05T09:00:00+01:00",
            "last_dose_at": "2024-02-04T21:00:00+01:00",
            "concentration": 2.87,
            "unit": "ug/mL",
        },
    )

    assert sample["unit"] == "µg/mL"
    assert sample["concentration"] == 2.87
    assert sample["concentration_ng_ml"] == 2870
    assert sample["ctrough_ng_ml"] == 2870


def test_sample_drawn_before_the_minimum_time_after_dose_is_not_evaluable(nurse, treatment):
    sample = post(
        nurse,
        "samples",
        {
            "treatment": treatment["id"],
            "drawn_at": "2024-02-05T09:00:00+01:00",
            "last_dose_at": "2024-02-05T03:00:00+01:00",  # 6 h; sorafenib needs 10 h
            "concentration": 5100,
            "unit": "ng/mL",
        },
    )

    assert sample["hours_after_dose"] == 6
    assert sample["evaluable"] is False
    assert "before_min_time" in sample["reasons"]
    assert sample["ctrough_ng_ml"] is None


def test_adverse_events_count_occurrences_of_the_same_term(nurse, treatment):
    body = {
        "treatment": treatment["id"],
        "term": "Fatigue",
        "grade": 2,
        "onset": "2024-01-20",
        "resolved": None,
        "related": True,
        "action": "none",
    }
    since = last_audit_id()

    first = post(nurse, "adverse-events", body)
    second = post(nurse, "adverse-events", {**body, "onset": "2024-02-03", "grade": 1})
    other_term = post(nurse, "adverse-events", {**body, "term": "Diarrhea"})

    assert (first["term"], first["grade"], first["occurrence"]) == ("Fatigue", 2, 1)
    assert first["meddra_code"] == "10016256"
    assert (first["related"], first["action"], first["resolved"]) == (True, "none", None)
    assert second["occurrence"] == 2
    assert other_term["occurrence"] == 1
    assert nurse.get(f"{API}/adverse-events/{second['id']}/").json() == second
    assert new_audit_events(since) == sorted(
        ("create", "cases.adverseevent", str(event["id"]), "nurse_a")
        for event in (first, second, other_term)
    )


def test_adverse_event_term_is_matched_ignoring_case_and_stored_as_ctcae_spells_it(
    nurse, treatment
):
    event = post(
        nurse,
        "adverse-events",
        {"treatment": treatment["id"], "term": "  fatigue ", "grade": 1, "onset": "2024-01-20"},
    )

    assert event["term"] == "Fatigue"


def test_dose_regimen_extends_the_treatments_history(api, nurse, treatment):
    physician = api("physician_a")
    since = last_audit_id()

    regimen = post(
        physician,
        "dose-regimens",
        {
            "treatment": treatment["id"],
            "effective_from": "2024-02-12",
            "daily_dose_mg": 800,
            "administrations_per_day": 2,
            "reason": "tdm_advice",
        },
    )

    assert isinstance(regimen["id"], int)
    assert regimen["split_mg"] == [400, 400]
    assert (regimen["reason"], regimen["off_label"]) == ("tdm_advice", False)
    assert new_audit_events(since) == [
        ("create", "cases.doseregimen", str(regimen["id"]), "physician_a")
    ]
    after = nurse.get(f"{API}/treatments/{treatment['id']}/").json()
    assert [(r["effective_from"], r["daily_dose_mg"]) for r in after["regimens"]] == [
        ("2024-01-08", 600),
        ("2024-02-12", 800),
    ]
    assert after["current_daily_dose_mg"] == 800
    assert after["phase"] == "maintenance"
    assert after["status"] == "active"


def test_dose_regimen_from_a_future_date_is_not_yet_the_current_dose(nurse, treatment):
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)

    post(
        nurse,
        "dose-regimens",
        {
            "treatment": treatment["id"],
            "effective_from": tomorrow.isoformat(),
            "daily_dose_mg": 800,
            "administrations_per_day": 2,
            "reason": "tdm_advice",
        },
    )

    after = nurse.get(f"{API}/treatments/{treatment['id']}/").json()
    assert len(after["regimens"]) == 2
    assert after["current_daily_dose_mg"] == 600


def test_list_filters_by_treatment_and_patient(nurse):
    treatments = {}
    for number in ("TDM-0101", "TDM-0102"):
        patient = post(nurse, "patients", {**patient_body(number), "record_number": number})
        treatment = post(nurse, "treatments", treatment_body(number))
        treatments[number] = (patient, treatment)
        post(
            nurse,
            "samples",
            {
                "treatment": treatment["id"],
                "drawn_at": "2024-02-05T09:00:00+01:00",
                "last_dose_at": "2024-02-04T21:00:00+01:00",
                "concentration": 3000,
                "unit": "ng/mL",
            },
        )
        post(
            nurse,
            "adverse-events",
            {"treatment": treatment["id"], "term": "Fatigue", "grade": 1, "onset": "2024-01-20"},
        )

    for patient, treatment in treatments.values():
        listed = nurse.get(f"{API}/treatments/", {"patient": patient["id"]}).json()
        assert [row["id"] for row in listed["results"]] == [treatment["id"]]
        for resource in ("samples", "adverse-events", "dose-regimens"):
            rows = nurse.get(f"{API}/{resource}/", {"treatment": treatment["id"]}).json()
            assert rows["count"] == 1, resource
            assert {row["treatment"] for row in rows["results"]} == {treatment["id"]}
    assert nurse.get(f"{API}/samples/").json()["count"] == 2


def test_schema_names_every_core_path(nurse):
    response = nurse.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    paths = set(response.json()["paths"])
    expected = {
        "/api/v1/patients/",
        "/api/v1/patients/{id}/",
        "/api/v1/treatments/",
        "/api/v1/treatments/{id}/",
        "/api/v1/dose-regimens/",
        "/api/v1/samples/",
        "/api/v1/samples/{id}/",
        "/api/v1/adverse-events/",
        "/api/v1/adverse-events/{id}/",
        "/api/v1/drugs/",
        "/api/v1/drugs/{id}/",
        "/api/v1/auth/token/",
    }
    assert expected <= paths, sorted(expected - paths)
    assert "post" in response.json()["paths"]["/api/v1/samples/"]


def test_schema_yaml_and_docs_page(nurse, client, staff):
    schema = nurse.get("/api/schema/")
    # The docs page is a browser's: signed in on the login page.
    client.force_login(staff["nurse_a"])
    docs = client.get("/api/docs/")

    assert schema.status_code == 200
    assert "openapi:" in schema.content.decode()
    assert "/api/v1/samples/{id}/:" in schema.content.decode()
    assert docs.status_code == 200
    assert "swagger" in docs.content.decode().lower()


@pytest.mark.parametrize("username", ROLES)
def test_every_role_reads_the_drug_catalogue(api, username):
    client = api(username)

    listed = client.get(f"{API}/drugs/")

    assert listed.status_code == 200
    assert listed.json()["count"] == 32 == Drug.objects.count()
    sorafenib = Drug.objects.get(name="sorafenib", indication="")
    detail = client.get(f"{API}/drugs/{sorafenib.pk}/").json()
    assert detail["dose_levels_mg"] == [200, 400, 600, 800, 1000, 1200, 1400, 1600]
    assert detail["standard_daily_dose_mg"] == 800


def test_drug_catalogue_is_read_only_over_the_api(api):
    sorafenib = Drug.objects.get(name="sorafenib", indication="")
    admin = api("admin")

    assert admin.post(f"{API}/drugs/", {"name": "x"}, format="json").status_code == 405
    assert (
        admin.patch(f"{API}/drugs/{sorafenib.pk}/", {"target_ng_ml": 1}, format="json").status_code
        == 405
    )
    sorafenib.refresh_from_db()
    assert sorafenib.version == 1
