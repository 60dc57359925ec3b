"""The electronic signature holds up to guessing (21 CFR Part 11 §11.300(d); docs/workflow.md
§3): every failed signature is audited although its step is undone, the fifth in 15 minutes
locks signing (the right password included) and tells the administrators at once, and only an
administrator's unlock lets the physician sign again."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError

from advice import services as advice_services
from advice import signing
from advice.models import Advice, SigningLock
from cases import roles
from cases.models import AuditEvent
from notifications.models import Notification
from tests import factories
from tests.conftest import DEMO_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def released(staff, case_at, django_capture_on_commit_callbacks) -> Advice:
    with django_capture_on_commit_callbacks(execute=True):
        case = case_at("a", adverse_event=False)
    advice = Advice.objects.get(sample=case["sample"])
    advice_services.advice_release(actor=staff["pharmacist_a"], advice=advice)
    advice.refresh_from_db()
    return advice


@pytest.fixture
def site_it(site_a):
    return factories.UserFactory(username="site_it", role=roles.ADMIN, sites=[], is_staff=True)


def accept(physician, advice: Advice, password: str) -> Advice:
    advice.refresh_from_db()
    return advice_services.advice_accept(
        actor=physician, advice=advice, password=password, checks_confirmed=advice.checks
    )


def reject(physician, advice: Advice, password: str) -> Advice:
    return advice_services.advice_reject(
        actor=physician, advice=advice, password=password, reason="not now"
    )


def wrong(sign, physician, advice: Advice, times: int) -> list[str]:
    """Sign `times` with a wrong password; the messages the physician got."""
    messages = []
    for attempt in range(times):
        with pytest.raises(ValidationError) as refused:
            sign(physician, advice, f"guess-{attempt}")
        messages += refused.value.message_dict["password"]
    return messages


def failures(user) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(actor=user, action=AuditEvent.Action.SIGN_FAILED).order_by("pk")
    )


def test_each_wrong_password_is_audited_and_four_do_not_lock(released, staff):
    physician = staff["physician_a"]

    assert wrong(accept, physician, released, 4) == [signing.WRONG_SIGNATURE] * 4

    events = failures(physician)
    assert len(events) == 4
    assert {(e.model, e.object_id, e.site.code) for e in events} == {
        ("advice.advice", str(released.pk), "SITEA")
    }
    released.refresh_from_db()
    assert released.state == Advice.State.RELEASED
    assert accept(physician, released, DEMO_PASSWORD).state == Advice.State.ACCEPTED
    assert not SigningLock.objects.exists()


def test_the_fifth_failure_locks_signing_even_with_the_right_password(
    released, staff, site_it, django_capture_on_commit_callbacks
):
    physician = staff["physician_a"]
    with django_capture_on_commit_callbacks(execute=True):
        wrong(reject, physician, released, 3)
        wrong(accept, physician, released, 2)

    assert SigningLock.objects.filter(user=physician, unlocked_at=None).count() == 1
    with pytest.raises(ValidationError) as refused:
        accept(physician, released, DEMO_PASSWORD)
    assert refused.value.message_dict["password"] == [signing.LOCKED]
    released.refresh_from_db()
    assert released.state == Advice.State.RELEASED
    assert [event.detail for event in failures(physician)][-1] == signing.LOCKED
    told = Notification.objects.filter(kind=Notification.Kind.SIGNING_LOCKED)
    assert {notice.recipient.username for notice in told} == {"admin", "site_it"}
    assert all("physician_a" in notice.body for notice in told)
    assert all(notice.link == "/admin/advice/signinglock/" for notice in told)


def test_failures_older_than_15_minutes_do_not_count(released, staff, monkeypatch):
    physician = staff["physician_a"]
    wrong(accept, physician, released, 4)
    later = signing.clock() + datetime.timedelta(minutes=16)
    monkeypatch.setattr(signing, "clock", lambda: later)

    wrong(accept, physician, released, 4)

    assert not SigningLock.objects.exists()


def test_an_administrator_unlocks_signing_on_the_admin_page(client, released, staff, site_it):
    physician = staff["physician_a"]
    wrong(accept, physician, released, 5)
    lock = SigningLock.objects.get(user=physician)
    client.force_login(site_it)

    listed = client.get("/admin/advice/signinglock/")
    response = client.post(
        "/admin/advice/signinglock/",
        {"action": "unlock", "_selected_action": [str(lock.pk)]},
    )

    assert listed.status_code == 200
    assert response.status_code == 302
    lock.refresh_from_db()
    assert lock.unlocked_by == site_it
    assert AuditEvent.objects.filter(
        model="advice.signinglock", object_id=str(lock.pk), detail="signing unlocked"
    ).exists()
    # The failures before the unlock no longer count: one more does not lock again.
    wrong(accept, physician, released, 1)
    assert not signing.open_locks().exists()
    assert accept(physician, released, DEMO_PASSWORD).state == Advice.State.ACCEPTED


def test_the_api_answers_a_locked_signature_on_the_password_field(released, staff, api):
    client = api("physician_a")
    url = f"/api/v1/advice/{released.pk}/accept/"
    body = {"checks_confirmed": released.checks}

    for attempt in range(5):
        answer = client.post(url, {**body, "password": f"guess-{attempt}"}, format="json")
        assert answer.status_code == 400
    locked = client.post(url, {**body, "password": DEMO_PASSWORD}, format="json")

    assert locked.status_code == 400
    assert locked.json()["password"] == [signing.LOCKED]
    assert len(failures(staff["physician_a"])) == 6
