"""No write route of the API answers 500 to anything a user can send (docs/api.md, "Errors").

The routes are the API's as the URL resolver knows them (tests/tdm_site/routes.py), so an action
added to any resource is in this battery the day it is added. Each is sent, by each clinical
role of the record's site, bodies of the wrong shape and values no field can hold; every answer
must be a 4xx (or a success the role may have), never a server error.
"""

from __future__ import annotations

import pytest

from advice import services as advice_services
from tests.tdm_site.routes import address, api_post_routes, resource

pytestmark = pytest.mark.django_db

ODD_VALUES = {
    "reason": ["not", "a", "text"],
    "text": {"nested": True},
    "password": None,
    "date": "2024-13-45",
    "effective_date": "0000-00-00",
    "effective_from": "9999-12-31",
    "start_date": "-1",
    "stop_date": 20240101,
    "drawn_at": "yesterday",
    "last_dose_at": "2024-02-05T09:00:00+99:00",
    "resolved": [],
    "concentration": "1e999",
    "daily_dose_mg": "NaN",
    "proposed_daily_dose_mg": "Infinity",
    "proposed_administrations_per_day": 10**30,
    "administrations_per_day": -1,
    "below_lloq": "perhaps",
    "confirm_implausible": "yes please",
    "checks_confirmed": "adherence",
    "treatment": "abc",
    "patient": {"id": 1},
    "unit": "\x00",
    "term": "x" * 10_000,
    "grade": 2.5,
    "format": "exe",
}
BODIES = {
    "empty object": {},
    "a list": [1, 2, 3],
    "a string": "hello",
    "null": None,
    "odd values": ODD_VALUES,
    "long text": {key: "x" * 100_000 for key in ("reason", "text", "password", "term")},
}


def test_the_battery_has_the_write_routes():
    routes = api_post_routes()
    assert any("withdraw" in route for route in routes)
    assert len(routes) >= 10


@pytest.mark.parametrize("route", api_post_routes())
def test_no_body_gives_a_server_error(api, case_at, route):
    case = case_at("a")
    advice = advice_services.advice_create_for_sample(sample_id=case["sample"].pk)
    ids = {
        "patients": case["patient"].pk,
        "treatments": case["treatment"].pk,
        "dose-regimens": case["treatment"].regimens.get().pk,
        "samples": case["sample"].pk,
        "adverse-events": case["event"].pk,
        "advice": advice.pk,
        "exports": 1,
    }
    target = address(route, ids.get(resource(route), 1))
    for user in ("nurse_a", "pharmacist_a", "physician_a", "datamanager_a"):
        client = api(user)
        for label, body in BODIES.items():
            answer = client.post(target, body, format="json")
            assert answer.status_code < 500, (user, target, label, answer.content[:300])
