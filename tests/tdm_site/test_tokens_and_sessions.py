"""Credentials end (docs/access.md): an API token after 8 hours, on logout, on a password change
and on deactivation; a page session after 30 minutes idle and 12 hours after its login. A call
with no credentials answers 401."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cases.models import AuditEvent
from tests.conftest import DEMO_PASSWORD

pytestmark = pytest.mark.django_db


def token_for(username: str) -> str:
    answer = APIClient().post(
        "/api/v1/auth/token/", {"username": username, "password": DEMO_PASSWORD}, format="json"
    )
    assert answer.status_code == 200
    return answer.json()["token"]


def with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_no_credentials_answer_401_naming_the_scheme():
    answer = APIClient().get("/api/v1/patients/")

    assert answer.status_code == 401
    assert answer["WWW-Authenticate"] == "Token"


def test_a_token_expires_after_8_hours_and_a_new_one_is_issued(staff):
    issued = timezone.now()
    with time_machine.travel(issued, tick=False):
        key = token_for("nurse_a")
    with time_machine.travel(issued + datetime.timedelta(hours=7, minutes=59), tick=False):
        assert with_token(key).get("/api/v1/patients/").status_code == 200
    with time_machine.travel(issued + datetime.timedelta(hours=8, minutes=1), tick=False):
        expired = with_token(key).get("/api/v1/patients/")
        fresh = token_for("nurse_a")

    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]
    assert fresh != key


def test_logout_revokes_the_token_and_is_audited(staff):
    key = token_for("pharmacist_a")
    client = with_token(key)

    assert client.post("/api/v1/auth/logout/").status_code == 204

    assert client.get("/api/v1/patients/").status_code == 401
    assert not Token.objects.filter(key=key).exists()
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.LOGOUT, actor=staff["pharmacist_a"], detail="API token revoked"
    ).exists()


def test_a_password_change_and_a_deactivation_end_the_token(staff):
    nurse, physician = staff["nurse_a"], staff["physician_a"]
    nurse_key, physician_key = token_for("nurse_a"), token_for("physician_a")

    nurse.set_password("a-changed-password-7")
    nurse.save()
    physician.is_active = False
    physician.save()

    assert with_token(nurse_key).get("/api/v1/patients/").status_code == 401
    assert with_token(physician_key).get("/api/v1/patients/").status_code == 401
    assert not Token.objects.filter(user__in=[nurse, physician]).exists()


def test_a_login_keeps_the_token(staff):
    key = token_for("nurse_a")
    staff["nurse_a"].last_login = timezone.now()
    staff["nurse_a"].save(update_fields=["last_login"])
    token_for("nurse_a")

    assert Token.objects.get(user=staff["nurse_a"]).key == key


def test_a_session_ends_after_30_idle_minutes_and_not_while_used(client, staff):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client.post("/accounts/login/", {"username": "nurse_a", "password": DEMO_PASSWORD})
    # Used every 20 minutes for an hour and a half: still signed in.
    for minutes in (20, 40, 60, 80):
        with time_machine.travel(start + datetime.timedelta(minutes=minutes), tick=False):
            assert client.get("/patients/").status_code == 200
    with time_machine.travel(start + datetime.timedelta(minutes=80 + 31), tick=False):
        idle = client.get("/patients/")

    assert idle.status_code == 302
    assert idle["Location"].startswith("/accounts/login/")


def test_a_session_ends_12_hours_after_the_login_however_used(client, staff):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client.post("/accounts/login/", {"username": "nurse_a", "password": DEMO_PASSWORD})
    # Used every 20 minutes for 12 hours.
    for minutes in range(0, 12 * 60, 20):
        with time_machine.travel(start + datetime.timedelta(minutes=minutes), tick=False):
            assert client.get("/patients/").status_code == 200
    with time_machine.travel(start + datetime.timedelta(hours=12, minutes=5), tick=False):
        late = client.get("/patients/")

    assert late.status_code == 302


def test_the_api_schema_and_docs_are_for_signed_in_users(client, staff):
    assert APIClient().get("/api/schema/").status_code == 401
    assert client.get("/api/docs/")["Location"].startswith("/accounts/login/")

    client.force_login(staff["datamanager_a"])
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200
