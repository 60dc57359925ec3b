"""docs/workflow.md §2: the pharmacist withdraws a draft advice with a reason (service, API and
page); it is never released, and the nurse reads why."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from advice import services as advice_services
from advice.models import Advice
from cases.errors import StateConflict
from cases.models import AuditEvent
from notifications.models import Notification
from tests.pages import field_error

pytestmark = pytest.mark.django_db

REASON = "Drawn from the infusion arm; the nurse re-samples tomorrow."


@pytest.fixture
def draft(case_at, django_capture_on_commit_callbacks) -> Advice:
    with django_capture_on_commit_callbacks(execute=True):
        case = case_at("a", adverse_event=False)
    return Advice.objects.get(sample=case["sample"])


def test_the_pharmacist_withdraws_a_draft_with_its_reason(staff, draft):
    withdrawn = advice_services.advice_withdraw(
        actor=staff["pharmacist_a"], advice=draft, reason=f"  {REASON} "
    )

    draft.refresh_from_db()
    assert withdrawn.state == draft.state == Advice.State.WITHDRAWN
    assert draft.withdrawal_reason == REASON
    event = AuditEvent.objects.get(model="advice.advice", object_id=str(draft.pk), action="update")
    assert event.detail == f"withdrawn by the pharmacist: {REASON}"
    assert (event.before["state"], event.after["state"]) == ("draft", "withdrawn")
    assert not Notification.objects.exists()


def test_withdrawing_needs_the_pharmacist_of_the_site_a_reason_and_a_draft(staff, draft):
    for outsider in ("nurse_a", "physician_a", "pharmacist_b"):
        with pytest.raises(PermissionDenied):
            advice_services.advice_withdraw(actor=staff[outsider], advice=draft, reason=REASON)
    with pytest.raises(ValidationError) as no_reason:
        advice_services.advice_withdraw(actor=staff["pharmacist_a"], advice=draft, reason="  ")
    assert no_reason.value.message_dict == {
        "reason": ["Give the reason for withdrawing the advice."]
    }
    advice_services.advice_release(actor=staff["pharmacist_a"], advice=draft)
    with pytest.raises(StateConflict, match="Only draft advice can be withdrawn"):
        advice_services.advice_withdraw(actor=staff["pharmacist_a"], advice=draft, reason=REASON)
    draft.refresh_from_db()
    assert draft.state == Advice.State.RELEASED


def test_withdrawn_advice_is_in_neither_queue(client, staff, draft):
    advice_services.advice_withdraw(actor=staff["pharmacist_a"], advice=draft, reason=REASON)

    for user in ("pharmacist_a", "physician_a"):
        client.force_login(staff[user])
        html = client.get("/advice/").content.decode()
        assert f"/advice/{draft.pk}/" not in html, user
    assert "Withdrawn (1)" in html
    assert f"/advice/{draft.pk}/" in client.get("/advice/?state=withdrawn").content.decode()


def test_withdraw_through_the_api(api, staff, draft):
    url = f"/api/v1/advice/{draft.pk}/withdraw/"

    assert api("nurse_a").post(url, {"reason": REASON}, format="json").status_code == 403
    assert api("pharmacist_b").post(url, {"reason": REASON}, format="json").status_code == 404
    blank = api("pharmacist_a").post(url, {"reason": ""}, format="json")
    assert (blank.status_code, list(blank.json())) == (400, ["reason"])
    done = api("pharmacist_a").post(url, {"reason": REASON}, format="json")
    assert done.status_code == 200
    assert (done.json()["state"], done.json()["withdrawal_reason"]) == ("withdrawn", REASON)
    again = api("pharmacist_a").post(url, {"reason": REASON}, format="json")
    assert again.status_code == 409


def test_withdraw_from_the_page_and_the_nurse_reads_why(client, staff, draft):
    client.force_login(staff["pharmacist_a"])
    page = client.get(f"/advice/{draft.pk}/").content.decode()
    assert "Withdraw the advice" in page

    missing = client.post(f"/advice/{draft.pk}/withdraw/", {"reason": ""})
    assert missing.status_code == 400
    assert "Give the reason" in field_error(missing.content.decode(), "withdraw_reason")

    done = client.post(f"/advice/{draft.pk}/withdraw/", {"reason": REASON})
    assert done.status_code == 302
    draft.refresh_from_db()
    assert draft.state == Advice.State.WITHDRAWN

    client.force_login(staff["nurse_a"])
    detail = " ".join(client.get(f"/advice/{draft.pk}/").content.decode().split())
    assert f"<strong>Withdrawn:</strong> {REASON}" in detail
    assert "Withdraw the advice" not in detail
    treatment = " ".join(client.get(f"/treatments/{draft.treatment_id}/").content.decode().split())
    assert f"withdrawn</span>: {REASON}" in treatment


def test_only_the_pharmacist_sees_the_withdraw_action(client, staff, draft):
    for user in ("nurse_a", "physician_a"):
        client.force_login(staff[user])
        assert "Withdraw the advice" not in client.get(f"/advice/{draft.pk}/").content.decode()
        client.post(f"/advice/{draft.pk}/withdraw/", {"reason": REASON})
    draft.refresh_from_db()
    assert draft.state == Advice.State.DRAFT
