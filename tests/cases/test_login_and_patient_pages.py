"""Pages: logging in with Django's form, the home page and the patient list for every role."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from cases.models import AuditEvent

pytestmark = pytest.mark.django_db

DEMO_USERS = [
    *(f"{role}{suffix}" for suffix in ("", "2") for role in ("nurse", "pharmacist", "physician")),
    "datamanager",
    "datamanager2",
    "admin",
]
SITE_A_CLINICAL = ["nurse_a", "pharmacist_a", "physician_a"]
SITE_B_CLINICAL = ["nurse_b", "pharmacist_b", "physician_b"]
ALL_SITES = ["datamanager_a", "datamanager_b", "admin"]
EVERYONE = [*SITE_A_CLINICAL, *SITE_B_CLINICAL, *ALL_SITES]


@pytest.fixture
def demo_password() -> str:
    password = "pages-test-pw-7"
    call_command("seed_demo", password=password, stdout=StringIO())
    return password


@pytest.fixture
def both_sites(case_at) -> dict[str, dict[str, Any]]:
    return {"a": case_at("a"), "b": case_at("b")}


def test_login_page_shows_djangos_form(client):
    response = client.get("/accounts/login/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="username"' in html
    assert 'name="password"' in html
    assert 'action="/accounts/login/"' in html


@pytest.mark.parametrize("username", DEMO_USERS)
def test_demo_user_logs_in_with_the_form(client, demo_password, username):
    response = client.post("/accounts/login/", {"username": username, "password": demo_password})

    assert response.status_code == 302
    assert response["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert home.context["user"].username == username
    assert AuditEvent.objects.filter(action="login", actor_username=username).count() == 1


def test_login_goes_back_to_the_page_asked_for(client, demo_password):
    response = client.post(
        "/accounts/login/?next=/patients/",
        {"username": "nurse", "password": demo_password, "next": "/patients/"},
    )

    assert response.status_code == 302
    assert response["Location"] == "/patients/"


def test_wrong_password_shows_the_form_again_and_is_audited(client, demo_password):
    response = client.post("/accounts/login/", {"username": "nurse", "password": "guess"})

    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert client.get("/").status_code == 302
    failed = AuditEvent.objects.filter(action="login_failed", actor_username="nurse")
    assert failed.count() == 1
    assert not AuditEvent.objects.filter(action="login", actor_username="nurse").exists()


@pytest.mark.parametrize("username", EVERYONE)
def test_home_page_renders_for_every_role(client, staff, both_sites, username):
    client.force_login(staff[username])

    response = client.get("/")

    assert response.status_code == 200
    html = response.content.decode()
    visible = 2 if username in ALL_SITES else 1
    assert f"{visible} patient{'s' if visible > 1 else ''} visible to you" in html
    own = "TDM-B001" if username.endswith("_b") else "TDM-A001"
    assert own in html  # its sample is among the latest
    if username in SITE_A_CLINICAL:
        assert "TDM-B001" not in html
    if username in SITE_B_CLINICAL:
        assert "TDM-A001" not in html


@pytest.mark.parametrize("username", EVERYONE)
def test_patient_list_renders_for_every_role(client, staff, both_sites, username):
    client.force_login(staff[username])

    response = client.get("/patients/")

    assert response.status_code == 200
    html = response.content.decode()
    for site, case in both_sites.items():
        link = f'href="/patients/{case["patient"].pk}/"'
        sees_it = username in ALL_SITES or username.endswith(f"_{site}")
        assert (link in html) is sees_it, (username, site)


def _found(client, query: str, patient) -> bool:
    response = client.get("/patients/", {"q": query})
    assert response.status_code == 200
    return f'href="/patients/{patient.pk}/"' in response.content.decode()


@pytest.mark.parametrize("username", EVERYONE)
@pytest.mark.parametrize("query", ["TDM-A001", "tdm-a001", "A001"])
def test_search_by_study_number(client, staff, both_sites, username, query):
    client.force_login(staff[username])

    found = _found(client, query, both_sites["a"]["patient"])

    assert found is (username not in SITE_B_CLINICAL)


@pytest.mark.parametrize("username", EVERYONE)
@pytest.mark.parametrize("query", ["Patient A", "patient a", "MRN-A-1"])
def test_search_by_identity_only_for_clinical_users_of_the_site(
    client, staff, both_sites, username, query
):
    client.force_login(staff[username])

    found = _found(client, query, both_sites["a"]["patient"])

    assert found is (username in SITE_A_CLINICAL)


def test_search_by_name_does_not_list_other_patients(client, staff, both_sites):
    client.force_login(staff["nurse_a"])

    html = client.get("/patients/", {"q": "Patient A"}).content.decode()

    assert "TDM-A001" in html
    assert "TDM-B001" not in html


def test_search_without_match_says_so(client, staff, both_sites):
    client.force_login(staff["datamanager_a"])

    html = client.get("/patients/", {"q": "TDM-9999"}).content.decode()

    assert "No patients found." in html
    assert "TDM-A001" not in html
