"""Sign-in holds up to guessing (docs/access.md): five failed logins of an account lock it
on the login page and the token endpoint alike; the next attempt, with the right password
too, answers 429 and says so; every attempt is audited; the lock passes after its cool-off
period, and a successful login before the limit starts the count again."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from cases.models import AuditEvent
from tests.conftest import DEMO_PASSWORD

pytestmark = pytest.mark.django_db


def log_in(client, username: str, password: str):
    return client.post("/accounts/login/", {"username": username, "password": password})


def ask_token(username: str, password: str):
    return APIClient().post(
        "/api/v1/auth/token/", {"username": username, "password": password}, format="json"
    )


def failed_logins(username: str) -> int:
    return AuditEvent.objects.filter(
        action=AuditEvent.Action.LOGIN_FAILED, actor_username=username
    ).count()


def test_the_sixth_login_is_refused_with_429_even_with_the_right_password(client, staff):
    answers = [log_in(client, "nurse_a", f"guess-{n}").status_code for n in range(5)]

    locked = log_in(client, "nurse_a", DEMO_PASSWORD)

    assert answers[:4] == [200] * 4
    assert answers[4] == 429
    assert locked.status_code == 429
    assert "locked after 5 failed logins" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    assert failed_logins("nurse_a") == 6


def test_the_token_endpoint_shares_the_count_and_the_lock(client, staff):
    for n in range(3):
        assert log_in(client, "physician_a", f"guess-{n}").status_code == 200
    assert ask_token("physician_a", "guess-3").status_code == 400

    locked_on_the_api = ask_token("physician_a", "guess-4")
    with_the_right_password = ask_token("physician_a", DEMO_PASSWORD)

    assert locked_on_the_api.status_code == 429
    assert with_the_right_password.status_code == 429
    assert "locked" in with_the_right_password.json()["detail"]
    assert "token" not in with_the_right_password.json()
    assert log_in(client, "physician_a", DEMO_PASSWORD).status_code == 429


def test_the_lock_of_one_account_leaves_the_others_alone(client, staff):
    for n in range(5):
        log_in(client, "nurse_a", f"guess-{n}")

    assert log_in(client, "nurse_b", DEMO_PASSWORD).status_code == 302
    assert ask_token("pharmacist_a", DEMO_PASSWORD).status_code == 200
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.LOGIN, actor__username="pharmacist_a", detail="API token issued"
    ).exists()


def test_the_lock_passes_after_15_minutes(client, staff):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for n in range(5):
            log_in(client, "nurse_a", f"guess-{n}")
        assert log_in(client, "nurse_a", DEMO_PASSWORD).status_code == 429
    with time_machine.travel(start + datetime.timedelta(minutes=16), tick=False):
        assert log_in(client, "nurse_a", DEMO_PASSWORD).status_code == 302


def test_a_successful_login_starts_the_count_again(client, staff):
    for n in range(4):
        log_in(client, "nurse_a", f"guess-{n}")
    assert log_in(client, "nurse_a", DEMO_PASSWORD).status_code == 302
    client.logout()

    for n in range(4):
        assert log_in(client, "nurse_a", f"again-{n}").status_code == 200
    assert log_in(client, "nurse_a", DEMO_PASSWORD).status_code == 302
