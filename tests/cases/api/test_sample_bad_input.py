"""The bad inputs of the sample write path (recording, result, correction), each refused with
400 naming the field and nothing written; the duplicates with 409 naming the other sample
(docs/api.md; docs/clinical-rules.md §1.1–§1.3)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from cases.models import AuditEvent, Sample
from tests.factories import SampleFactory, local_datetime

pytestmark = pytest.mark.django_db

API = "/api/v1/samples"


@pytest.fixture
def case(case_at, staff) -> dict[str, Any]:
    """The standard case (a sample of 2024-02-05 09:00 with accession L-1) and a sample drawn
    2024-03-10 09:00 waiting for its result."""
    case = case_at("a", adverse_event=False)
    Sample.objects.filter(pk=case["sample"].pk).update(lab_accession="L-1")
    case["drawn"] = SampleFactory(
        actor=staff["nurse_a"],
        treatment=case["treatment"],
        drawn_at=local_datetime("2024-03-10 09:00"),
        concentration=None,
    )
    return case


def _in_an_hour() -> str:
    return (timezone.now() + datetime.timedelta(hours=1)).isoformat()


def _address(action: str, case: dict[str, Any]) -> str:
    return {
        "create": f"{API}/",
        "result": f"{API}/{case['drawn'].pk}/result/",
        "correct": f"{API}/{case['sample'].pk}/correct/",
        "correct drawn": f"{API}/{case['drawn'].pk}/correct/",
    }[action]


def _base(action: str, case: dict[str, Any]) -> dict[str, Any]:
    """A body each endpoint accepts; each row changes one thing in it (None: leaves it out)."""
    return {
        "create": {
            "treatment": case["treatment"].pk,
            "drawn_at": "2024-03-04T09:00:00+01:00",
            "last_dose_at": "2024-03-03T21:00:00+01:00",
            "concentration": 3100,
            "unit": "ng/mL",
            "lab_accession": "L-2",
        },
        "result": {"concentration": 3100, "unit": "ng/mL"},
        "correct": {"concentration": 3100, "reason": "transcription error"},
        "correct drawn": {"drawn_at": "2024-03-10T08:00:00+01:00", "reason": "clock was wrong"},
    }[action]


Changes = dict[str, Any] | Callable[[], dict[str, Any]]

BAD_INPUT: dict[str, tuple[str, Changes, str]] = {
    "create: far above the plausible range": (
        "create",
        {"concentration": 99_999_999},
        "concentration",
    ),
    "create: below 1 % of the target": ("create", {"concentration": 3.1}, "concentration"),
    "create: µg/mL value sent as mg/L too high": (
        "create",
        {"concentration": 310, "unit": "mg/L"},
        "concentration",
    ),
    "create: nmol/L below the range once converted": (
        "create",
        {"concentration": 1.2345, "unit": "nmol/L"},
        "concentration",
    ),
    "create: above 1 g/mL even confirmed": (
        "create",
        {"concentration": 2_000_000, "unit": "mg/L", "confirm_implausible": True},
        "concentration",
    ),
    "create: last dose 8 days before the draw": (
        "create",
        {"last_dose_at": "2024-02-25T09:00:00+01:00"},
        "last_dose_at",
    ),
    "create: drawn in the future": ("create", lambda: {"drawn_at": _in_an_hour()}, "drawn_at"),
    "create: confirm_implausible not a boolean": (
        "create",
        {"confirm_implausible": "maybe"},
        "confirm_implausible",
    ),
    "result: implausible": ("result", {"concentration": 500_000}, "concentration"),
    "result: negative": ("result", {"concentration": -1}, "concentration"),
    "correct: no reason": ("correct", {"reason": ""}, "reason"),
    "correct: reason missing": ("correct", {"reason": None}, "reason"),
    "correct: nothing differs": ("correct", {"concentration": 2870}, "non_field_errors"),
    "correct: implausible": ("correct", {"concentration": 28_700_000}, "concentration"),
    "correct: negative": ("correct", {"concentration": -5}, "concentration"),
    "correct: not a number": ("correct", {"concentration": "abc"}, "concentration"),
    "correct: zero without below_lloq": ("correct", {"concentration": 0}, "concentration"),
    "correct: unknown unit": ("correct", {"unit": "mmol/L"}, "unit"),
    "correct: drawn in the future": ("correct", lambda: {"drawn_at": _in_an_hour()}, "drawn_at"),
    "correct: drawn before the treatment start": (
        "correct",
        {"drawn_at": "2024-01-07T09:00:00+01:00", "concentration": 2870},
        "drawn_at",
    ),
    "correct: drawn at a time the database cannot hold": (
        "correct",
        {"drawn_at": "9999-12-31T23:59:00-01:00"},
        "drawn_at",
    ),
    "correct: last dose after the draw": (
        "correct",
        {"last_dose_at": "2024-02-05T10:00:00+01:00"},
        "last_dose_at",
    ),
    "correct: last dose 8 days before the draw": (
        "correct",
        {"last_dose_at": "2024-01-28T09:00:00+01:00"},
        "last_dose_at",
    ),
    "correct: the result of a sample waiting for it": (
        "correct drawn",
        {"below_lloq": True},
        "below_lloq",
    ),
}


def _written() -> dict[str, object]:
    return {
        "samples": list(Sample.objects.order_by("pk").values()),
        "audit": AuditEvent.objects.count(),
    }


@pytest.mark.parametrize("row", BAD_INPUT, ids=list(BAD_INPUT))
def test_bad_sample_input_is_refused_naming_the_field(api, case, row):
    action, changes, field = BAD_INPUT[row]
    body = {**_base(action, case), **(changes() if callable(changes) else changes)}
    body = {key: value for key, value in body.items() if value is not None}
    before = _written()

    answer = api("nurse_a").post(_address(action, case), body, format="json")

    assert answer.status_code == 400, answer.json()
    assert field in answer.json(), answer.json()
    assert _written() == before


@pytest.mark.parametrize("action", ["create", "result", "correct", "correct drawn"])
def test_the_base_bodies_are_accepted(api, case, action):
    answer = api("nurse_a").post(_address(action, case), _base(action, case), format="json")

    assert answer.status_code in (200, 201), answer.json()


DUPLICATES: dict[str, tuple[str, dict[str, Any], str]] = {
    "create: drawn 30 minutes after a sample": (
        "create",
        {"drawn_at": "2024-02-05T09:30:00+01:00", "last_dose_at": None},
        "sample",
    ),
    "create: an accession number used at the site": (
        "create",
        {"lab_accession": "l-1"},
        "sample",
    ),
    "correct: moved within 30 minutes of the drawn sample": (
        "correct",
        {"drawn_at": "2024-03-10T08:45:00+01:00", "last_dose_at": "2024-03-09T20:45:00+01:00"},
        "drawn",
    ),
}


@pytest.mark.parametrize("row", DUPLICATES, ids=list(DUPLICATES))
def test_a_duplicate_is_refused_with_409_naming_the_other_sample(api, case, row):
    action, changes, other = DUPLICATES[row]
    body = {**_base(action, case), **changes}
    body = {key: value for key, value in body.items() if value is not None}
    before = _written()

    answer = api("nurse_a").post(_address(action, case), body, format="json")

    assert answer.status_code == 409, answer.json()
    assert answer.json()["conflicting_sample"] == case[other].pk
    assert answer.json()["detail"]
    assert _written() == before
