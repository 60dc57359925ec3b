"""Who may see and write what, tried on every resource by someone who must not (docs/access.md).

Every resource gets the same battery: site B's clinical users do not find site A's record
(detail 404, absent from lists and filters, indistinguishable from a record that never
existed), site A's clinical users do; data managers see every site without identity; nobody
anonymous gets in; roles without a write permission get 403; writes that point at another
site's record fail as if it did not exist.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cases.models import AdverseEvent, AuditEvent, DoseRegimen, Patient, Sample, Treatment
from tests.conftest import api_client_for
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

API = "/api/v1"
NEVER_USED_ID = 987_654

# resource name in the URL → the record of a `case_at(...)` it serves
RECORD_OF: dict[str, Callable[[dict[str, Any]], Any]] = {
    "patients": lambda case: case["patient"],
    "treatments": lambda case: case["treatment"],
    "samples": lambda case: case["sample"],
    "adverse-events": lambda case: case["event"],
    "dose-regimens": lambda case: case["treatment"].regimens.get(),
}
RESOURCES = list(RECORD_OF)

# list filters pointing at a parent record: resource → (query parameter, parent in the case)
PARENT_FILTER: dict[str, tuple[str, str]] = {
    "treatments": ("patient", "patient"),
    "samples": ("treatment", "treatment"),
    "adverse-events": ("treatment", "treatment"),
    "dose-regimens": ("treatment", "treatment"),
}

PAGES = {
    "patients": "patient",
    "treatments": "treatment",
    "samples": "sample",
    "adverse-events": "event",
}

CLINICAL = ["nurse", "physician", "pharmacist"]
ALL_SITES_USERS = ["datamanager_a", "datamanager_b", "admin"]
IDENTITY_OF_A = ("Patient A", "MRN-A-1")


@pytest.fixture
def both_sites(case_at) -> dict[str, dict[str, Any]]:
    return {"a": case_at("a"), "b": case_at("b")}


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def _counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Patient, Treatment, DoseRegimen, Sample, AdverseEvent, AuditEvent)
    }


# Reading through the API ------------------------------------------------------------------------


@pytest.mark.parametrize("role", CLINICAL)
@pytest.mark.parametrize("resource", RESOURCES)
def test_other_sites_record_is_not_found_like_one_that_never_existed(
    api, both_sites, resource, role
):
    record = RECORD_OF[resource](both_sites["a"])
    client = api(f"{role}_b")

    response = client.get(f"{API}/{resource}/{record.pk}/")
    never = client.get(f"{API}/{resource}/{NEVER_USED_ID}/")

    assert response.status_code == 404
    assert response.json() == never.json()


@pytest.mark.parametrize("role", CLINICAL)
@pytest.mark.parametrize("resource", RESOURCES)
def test_list_holds_own_sites_records_only(api, both_sites, resource, role):
    own = RECORD_OF[resource](both_sites["b"])
    other = RECORD_OF[resource](both_sites["a"])

    ids = _ids(api(f"{role}_b").get(f"{API}/{resource}/"))

    assert own.pk in ids
    assert other.pk not in ids


@pytest.mark.parametrize("resource", list(PARENT_FILTER))
def test_filter_on_other_sites_parent_reveals_nothing(api, both_sites, resource):
    parameter, parent_key = PARENT_FILTER[resource]
    parent = both_sites["a"][parent_key]
    client = api("nurse_b")

    response = client.get(f"{API}/{resource}/", {parameter: parent.pk})
    never = client.get(f"{API}/{resource}/", {parameter: NEVER_USED_ID})

    assert response.status_code in (200, 400)
    if response.status_code == 200:
        assert response.json()["results"] == []
    # Another site's parent must answer exactly like a parent that does not exist: anything
    # else tells an outsider which ids are in use elsewhere.
    assert (response.status_code, response.json()) == (never.status_code, never.json()), (
        f"?{parameter}={parent.pk} (site A) answered {response.status_code} "
        f"{response.json()}, ?{parameter}={NEVER_USED_ID} (no such record) answered "
        f"{never.status_code} {never.json()}"
    )


@pytest.mark.parametrize("role", CLINICAL)
@pytest.mark.parametrize("resource", list(PARENT_FILTER))
def test_filter_on_own_parent_lists_its_records(api, both_sites, resource, role):
    parameter, parent_key = PARENT_FILTER[resource]
    case = both_sites["a"]

    ids = _ids(api(f"{role}_a").get(f"{API}/{resource}/", {parameter: case[parent_key].pk}))

    assert ids == {RECORD_OF[resource](case).pk}


def test_patient_site_filter_and_search_do_not_reach_other_sites(api, both_sites):
    client = api("nurse_b")

    assert _ids(client.get(f"{API}/patients/", {"site": "SITEA"})) == set()
    for query in ("TDM-A001", "Patient A", "MRN-A-1"):
        assert _ids(client.get(f"{API}/patients/", {"q": query})) == set(), query


@pytest.mark.parametrize("role", CLINICAL)
@pytest.mark.parametrize("resource", RESOURCES)
def test_own_sites_record_is_readable(api, both_sites, resource, role):
    record = RECORD_OF[resource](both_sites["a"])
    client = api(f"{role}_a")

    response = client.get(f"{API}/{resource}/{record.pk}/")

    assert response.status_code == 200
    assert response.json()["id"] == record.pk
    assert record.pk in _ids(client.get(f"{API}/{resource}/"))


# Identity: data managers see every site, pseudonymised -------------------------------------------


@pytest.mark.parametrize("username", ALL_SITES_USERS)
@pytest.mark.parametrize("resource", RESOURCES)
def test_all_sites_users_read_every_sites_records(api, both_sites, resource, username):
    client = api(username)
    ids = _ids(client.get(f"{API}/{resource}/"))

    for case in both_sites.values():
        record = RECORD_OF[resource](case)
        assert record.pk in ids
        assert client.get(f"{API}/{resource}/{record.pk}/").status_code == 200


@pytest.mark.parametrize("username", ALL_SITES_USERS)
def test_all_sites_users_never_get_identity_from_the_api(api, both_sites, username):
    client = api(username)
    patient = both_sites["a"]["patient"]

    detail = client.get(f"{API}/patients/{patient.pk}/")
    listing = client.get(f"{API}/patients/")
    searched = client.get(f"{API}/patients/", {"q": "Patient A"})

    assert detail.status_code == 200
    assert detail.json()["study_number"] == "TDM-A001"
    assert "name" not in detail.json()
    assert "record_number" not in detail.json()
    assert all(
        "name" not in row and "record_number" not in row for row in listing.json()["results"]
    )
    assert _ids(searched) == set()
    for response in (detail, listing):
        for identity in IDENTITY_OF_A:
            assert identity not in response.content.decode()


@pytest.mark.parametrize("username", ALL_SITES_USERS)
def test_all_sites_users_never_get_identity_from_the_pages(client, staff, both_sites, username):
    case = both_sites["a"]
    client.force_login(staff[username])

    pages = [
        f"/patients/{case['patient'].pk}/",
        "/patients/",
        f"/treatments/{case['treatment'].pk}/",
        f"/samples/{case['sample'].pk}/",
        f"/adverse-events/{case['event'].pk}/",
        "/",
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        for identity in IDENTITY_OF_A:
            assert identity not in html, f"{identity} on {url}"
    assert "TDM-A001" in client.get("/patients/").content.decode()


@pytest.mark.parametrize("role", CLINICAL)
def test_clinical_users_of_the_site_see_identity(api, client, staff, both_sites, role):
    patient = both_sites["a"]["patient"]
    api_client = api(f"{role}_a")

    detail = api_client.get(f"{API}/patients/{patient.pk}/").json()
    listed = {row["id"]: row for row in api_client.get(f"{API}/patients/").json()["results"]}

    assert (detail["name"], detail["record_number"]) == IDENTITY_OF_A
    assert (listed[patient.pk]["name"], listed[patient.pk]["record_number"]) == IDENTITY_OF_A
    client.force_login(staff[f"{role}_a"])
    for url in (f"/patients/{patient.pk}/", "/patients/"):
        html = client.get(url).content.decode()
        for identity in IDENTITY_OF_A:
            assert identity in html, f"{identity} missing on {url}"


# Pages ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", CLINICAL)
@pytest.mark.parametrize("page", list(PAGES))
def test_other_sites_page_is_not_found(client, staff, both_sites, page, role):
    record = both_sites["a"][PAGES[page]]
    client.force_login(staff[f"{role}_b"])

    assert client.get(f"/{page}/{record.pk}/").status_code == 404


@pytest.mark.parametrize("role", CLINICAL)
@pytest.mark.parametrize("page", list(PAGES))
def test_own_sites_page_is_shown(client, staff, both_sites, page, role):
    record = both_sites["a"][PAGES[page]]
    client.force_login(staff[f"{role}_a"])

    response = client.get(f"/{page}/{record.pk}/")

    assert response.status_code == 200
    assert "TDM-A001" in response.content.decode()


@pytest.mark.parametrize("role", CLINICAL)
def test_patient_list_page_holds_own_sites_patients_only(client, staff, both_sites, role):
    client.force_login(staff[f"{role}_b"])

    html = client.get("/patients/").content.decode()

    assert "TDM-B001" in html
    assert "TDM-A001" not in html
    assert f"/patients/{both_sites['a']['patient'].pk}/" not in html


# Anonymous --------------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", [*RESOURCES, "drugs"])
def test_anonymous_api_requests_are_refused(both_sites, resource):
    client = APIClient()
    detail_id = RECORD_OF[resource](both_sites["a"]).pk if resource in RECORD_OF else NEVER_USED_ID

    for response in (
        client.get(f"{API}/{resource}/"),
        client.get(f"{API}/{resource}/{detail_id}/"),
        client.post(f"{API}/{resource}/", {}, format="json"),
    ):
        assert response.status_code in (401, 403)
        assert "TDM-A001" not in response.content.decode()


@pytest.mark.parametrize("page", list(PAGES))
def test_anonymous_detail_pages_redirect_to_login(client, both_sites, page):
    url = f"/{page}/{both_sites['a'][PAGES[page]].pk}/"

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"


@pytest.mark.parametrize("url", ["/", "/patients/"])
def test_anonymous_overview_pages_redirect_to_login(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


# Writing ----------------------------------------------------------------------------------------


def _payloads(case: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A valid body for each resource, pointing at the case's records."""
    return {
        "patients": {
            "study_number": "TDM-NEW1",
            "site": case["patient"].site.code,
            "sex": "M",
            "birth_year": 1970,
            "tumour": "renal cell carcinoma",
        },
        "treatments": {
            "patient": case["patient"].study_number,
            "drug": "sorafenib",
            "indication": None,
            "start_date": "2024-03-04",
            "daily_dose_mg": 400,
            "administrations_per_day": 2,
            "overlap_reason": "second course intended by the study protocol",
        },
        "samples": {
            "treatment": case["treatment"].pk,
            "drawn_at": "2024-03-04T09:00:00+01:00",
            "last_dose_at": "2024-03-03T21:00:00+01:00",
            "concentration": 3100,
            "unit": "ng/mL",
        },
        "adverse-events": {
            "treatment": case["treatment"].pk,
            "term": "Diarrhea",
            "grade": 1,
            "onset": "2024-02-10",
        },
        "dose-regimens": {
            "treatment": case["treatment"].pk,
            "effective_from": "2024-03-04",
            "daily_dose_mg": 800,
            "administrations_per_day": 2,
            "reason": "tdm_advice",
        },
    }


@pytest.mark.parametrize(
    ("username", "resources"),
    [
        ("pharmacist_a", RESOURCES),
        ("datamanager_a", RESOURCES),
        ("physician_a", ["patients", "treatments", "samples"]),
    ],
)
def test_roles_without_add_permission_get_403_and_nothing_is_written(
    api, both_sites, username, resources
):
    payloads = _payloads(both_sites["a"])
    client = api(username)

    for resource in resources:
        before = _counts()
        response = client.post(f"{API}/{resource}/", payloads[resource], format="json")
        assert response.status_code == 403, (resource, response.content)
        assert _counts() == before


def test_nurse_may_write_what_the_pharmacist_may_not(api, both_sites):
    """The 403s above are about the role, not the payload: the same bodies work for a nurse."""
    payloads = _payloads(both_sites["a"])
    client = api("nurse_a")

    for resource in ["patients", "treatments", "samples", "adverse-events", "dose-regimens"]:
        response = client.post(f"{API}/{resource}/", payloads[resource], format="json")
        assert response.status_code == 201, (resource, response.content)


@pytest.mark.parametrize(
    ("username", "resource", "field"),
    [
        ("nurse_b", "treatments", "patient"),
        ("nurse_b", "samples", "treatment"),
        ("nurse_b", "adverse-events", "treatment"),
        ("physician_b", "adverse-events", "treatment"),
        ("physician_b", "dose-regimens", "treatment"),
        ("nurse_b", "dose-regimens", "treatment"),
    ],
)
def test_writing_to_other_sites_record_fails_as_if_it_did_not_exist(
    api, both_sites, username, resource, field
):
    payload = _payloads(both_sites["a"])[resource]
    unknown = {**payload, field: "TDM-NONE" if field == "patient" else NEVER_USED_ID}
    client = api(username)
    before = _counts()

    response = client.post(f"{API}/{resource}/", payload, format="json")
    never = client.post(f"{API}/{resource}/", unknown, format="json")

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert _counts() == before
    # Same words as for a record that does not exist, apart from the value itself.
    message = response.json()[field][0].replace(str(payload[field]), "<value>")
    assert message == never.json()[field][0].replace(str(unknown[field]), "<value>")


def test_patient_at_a_site_the_user_does_not_work_at_is_refused(api, both_sites):
    payload = _payloads(both_sites["a"])["patients"]
    client = api("nurse_b")
    before = _counts()

    response = client.post(f"{API}/patients/", payload, format="json")
    unknown = client.post(f"{API}/patients/", {**payload, "site": "NOSUCHSITE"}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["site"]
    assert response.json()["site"] == ["Unknown site SITEA."]
    assert unknown.json()["site"] == ["Unknown site NOSUCHSITE."]
    assert _counts() == before
    assert not Patient.objects.filter(study_number="TDM-NEW1").exists()


# Token authentication ---------------------------------------------------------------------------


def test_token_login_gives_a_token_that_authenticates(staff, both_sites):
    client = APIClient()

    response = client.post(
        f"{API}/auth/token/", {"username": "nurse_a", "password": DEMO_PASSWORD}, format="json"
    )

    assert response.status_code == 200
    token = response.json()["token"]
    assert token == Token.objects.get(user=staff["nurse_a"]).key
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    listed = client.get(f"{API}/patients/")
    assert listed.status_code == 200
    assert _ids(listed) == {both_sites["a"]["patient"].pk}


def test_token_of_one_site_still_cannot_read_the_other(staff, both_sites):
    client = APIClient()
    token = client.post(
        f"{API}/auth/token/", {"username": "nurse_b", "password": DEMO_PASSWORD}, format="json"
    ).json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    response = client.get(f"{API}/patients/{both_sites['a']['patient'].pk}/")

    assert response.status_code == 404


def test_wrong_password_gives_no_token_and_is_audited(staff):
    client = APIClient()
    failed_before = AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN_FAILED).count()

    response = client.post(
        f"{API}/auth/token/", {"username": "nurse_a", "password": "not the password"}, format="json"
    )

    assert response.status_code == 400
    assert "token" not in response.json()
    assert not Token.objects.filter(user=staff["nurse_a"]).exists()
    failed = AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN_FAILED)
    assert failed.count() == failed_before + 1
    event = failed.latest("id")
    assert event.actor_username == "nurse_a"
    assert event.actor is None


def test_unknown_token_is_refused(both_sites):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)

    response = client.get(f"{API}/patients/")

    assert response.status_code in (401, 403)
    assert "TDM-A001" not in response.content.decode()


# Query counts -----------------------------------------------------------------------------------


def _more_records(resource: str, staff, case: dict[str, Any], how_many: int) -> None:
    """Add `how_many` records of the resource at the case's site (factories: the services)."""
    nurse = staff["nurse_a"]
    treatment = case["treatment"]
    start = treatment.start_date
    for index in range(how_many):
        if resource == "patients":
            PatientFactory(
                actor=nurse,
                site=case["patient"].site,
                treating_physician=staff["physician_a"],
                responsible_nurse=nurse,
            )
        elif resource == "treatments":
            TreatmentFactory(
                actor=nurse,
                patient=case["patient"],
                drug=treatment.drug,
                start_date=start + datetime.timedelta(days=60 + index),
                overlap_reason="a course per cycle, as the protocol asks",
            )
        elif resource == "samples":
            SampleFactory(
                actor=nurse,
                treatment=treatment,
                drawn_at=local_datetime(f"2024-03-{index + 4:02d} 09:00"),
            )
        elif resource == "adverse-events":
            AdverseEventFactory(
                actor=nurse,
                treatment=treatment,
                term="Diarrhea",
                grade=1,
                onset=start + datetime.timedelta(days=30 + index),
            )
        elif resource == "dose-regimens":
            DoseRegimenFactory(
                actor=nurse,
                treatment=treatment,
                effective_from=start + datetime.timedelta(days=30 + 7 * index),
                daily_dose_mg=Decimal(800 if index % 2 == 0 else 600),
                reason="tdm_advice",
            )


def _fresh_client(username: str) -> APIClient:
    # A new user object per request, so role and site lookups are counted every time.
    return api_client_for(get_user_model().objects.get(username=username))


@pytest.mark.parametrize("resource", RESOURCES)
def test_lists_need_no_query_per_record(staff, both_sites, resource, django_assert_max_num_queries):
    url = f"{API}/{resource}/"
    with CaptureQueriesContext(connection) as one_record:
        response = _fresh_client("nurse_b").get(url)
    assert len(_ids(response)) == 1

    _more_records(resource, staff, both_sites["a"], 4)
    with django_assert_max_num_queries(len(one_record)):
        response = _fresh_client("nurse_a").get(url)
    assert len(_ids(response)) == 5
    assert len(one_record) <= 10, [query["sql"] for query in one_record.captured_queries]
