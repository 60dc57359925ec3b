"""Nothing a user can send answers 500 (docs/api.md, "Errors"): odd characters, out-of-range
times and offsets, absurdly nested bodies, dates years away; each gets 400 naming the field."""

from __future__ import annotations

import json

import pytest

from cases.models import AuditEvent

pytestmark = pytest.mark.django_db

API = "/api/v1"


def test_an_adverse_event_is_resolved_through_the_api(api, case_at):
    event = case_at("a")["event"]
    client = api("nurse_a")
    answer = client.post(
        f"{API}/adverse-events/{event.pk}/resolve/", {"resolved": "2024-02-10"}, format="json"
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["resolved"] == "2024-02-10"
    assert (
        AuditEvent.objects.filter(model="cases.adverseevent", object_id=str(event.pk)).count() == 2
    )
    # A second date corrects the first, audited with both.
    again = client.post(
        f"{API}/adverse-events/{event.pk}/resolve/", {"resolved": "2024-02-11"}, format="json"
    )
    assert again.status_code == 200, again.content
    correction = AuditEvent.objects.filter(model="cases.adverseevent").latest("pk")
    assert (correction.before["resolved"], correction.after["resolved"]) == (
        "2024-02-10",
        "2024-02-11",
    )


@pytest.mark.parametrize("query", ["\x00", "TDM\x00A001"])
def test_a_nul_character_in_a_search_is_a_400(client, staff, case_at, query):
    case_at("a")
    client.force_login(staff["nurse_a"])
    assert client.get("/patients/", {"q": query}).status_code == 400
    answer = client.get(f"{API}/patients/", {"q": query})
    assert answer.status_code == 400
    assert "NUL" in answer.json()["detail"]


def test_the_text_percent_zero_zero_is_searched_like_any_text(client, staff, case_at):
    case_at("a")
    client.force_login(staff["nurse_a"])
    assert client.get("/patients/", {"q": "%00"}).status_code == 200
    assert client.get(f"{API}/patients/", {"q": "%00"}).json()["count"] == 0


@pytest.mark.parametrize(
    "moment",
    ["2024-02-05T09:00:00-19:01", "2024-02-05T09:00:00+25:00", "9999-12-31T23:59:59-01:00"],
)
def test_a_time_filter_with_any_iso_offset_answers_without_failing(api, case_at, moment):
    case_at("a")
    answer = api("nurse_a").get(f"{API}/samples/", {"drawn_after": moment})
    assert answer.status_code in (200, 400), answer.content
    if answer.status_code == 400:
        assert "drawn_after" in answer.json()


def test_a_far_offset_filters_by_the_same_moment_in_utc(api, case_at):
    case_at("a")  # drawn 2024-02-05 09:00 in Amsterdam, 08:00 UTC
    client = api("nurse_a")
    before = client.get(f"{API}/samples/", {"drawn_after": "2024-02-04T12:59:00-19:00"}).json()
    after = client.get(f"{API}/samples/", {"drawn_after": "2024-02-04T13:01:00-19:00"}).json()
    assert (before["count"], after["count"]) == (1, 0)


def test_a_deeply_nested_body_is_a_400(api, case_at):
    case = case_at("a")
    body = '{"a":' * 5000 + "1" + "}" * 5000
    answer = api("nurse_a").generic(
        "POST",
        f"{API}/samples/{case['sample'].pk}/cancel/",
        body,
        content_type="application/json",
    )
    assert answer.status_code == 400, answer.content
    json.loads(answer.content)


def test_a_draw_time_the_database_cannot_hold_is_a_400_naming_the_field(api, case_at):
    treatment = case_at("a")["treatment"]
    answer = api("nurse_a").post(
        f"{API}/samples/",
        {"treatment": treatment.pk, "drawn_at": "9999-12-31T23:59:59-01:00", "concentration": 3000},
        format="json",
    )
    assert answer.status_code == 400, answer.content
    assert "drawn_at" in answer.json()
