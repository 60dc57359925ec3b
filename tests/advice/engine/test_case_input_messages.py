"""The `advise` JSON case: the exact message for each bad field, and the edges of what is accepted.

test_case_input.py checks that every bad value names its field; here the whole message is
checked, because it is what the caller of the command or the API reads.
"""

import copy

import pytest

from advice.engine.case_input import (
    advise_json,
    catalogue_finder,
    parse_adverse_event,
    parse_case,
    shipped_catalogue_finder,
)
from advice.engine.catalogue import read_catalogue
from advice.engine.errors import InputError

FIND_DRUG = shipped_catalogue_finder()
ISO_EXAMPLE = "(e.g. 2024-03-01T09:10:00+01:00)"

CASE = {
    "drug": "sorafenib",
    "indication": None,
    "phase": "maintenance",
    "regimen": {"daily_dose_mg": 600, "administrations_per_day": 2},
    "treatment_start": "2023-10-02",
    "last_dose_change": "2024-01-01",
    "sample": {
        "drawn_at": "2024-03-01T09:00:00+01:00",
        "last_dose_at": "2024-02-29T21:00:00+01:00",
        "concentration": 2870,
        "unit": "ng/mL",
        "below_lloq": False,
    },
    "adverse_events": [
        {"term": "Fatigue", "grade": 1, "onset": "2024-02-01", "resolved": None, "related": True}
    ],
}
REMOVE = object()


def changed(**changes):
    """CASE with values replaced (or removed) by dotted path: `changed(**{"sample.unit": None})`."""
    payload = copy.deepcopy(CASE)
    for path, value in changes.items():
        *parents, last = path.split(".")
        target = payload
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if value is REMOVE:
            del target[last]
        else:
            target[last] = value
    return payload


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"regimen": [600, 2]}, "regimen: must be a JSON object"),
        (
            {"regimen.tablets": 4},
            "regimen.tablets: unknown field; expected one of daily_dose_mg, "
            "administrations_per_day",
        ),
        ({"drug": REMOVE}, "drug: is required"),
        ({"drug": " "}, "drug: must be a non-empty string"),
        ({"drug": "aspirin"}, "drug: unknown drug 'aspirin'"),
        ({"indication": "hcc"}, "indication: sorafenib has no indication variants; give null"),
        ({"phase": "titration"}, "phase: must be one of step_up, maintenance, not 'titration'"),
        ({"regimen.daily_dose_mg": -200}, "regimen.daily_dose_mg: must be positive, not -200"),
        (
            {"regimen.administrations_per_day": 5},
            "regimen.administrations_per_day: must be a whole number from 1 to 4, not 5",
        ),
        ({"treatment_start": "2023-02-30"}, "treatment_start: '2023-02-30' is not a valid date"),
        ({"treatment_start": "2024-03-02"}, "sample.drawn_at: is before the treatment start"),
        ({"last_dose_change": "2023-01-01"}, "last_dose_change: is before the treatment start"),
        (
            {"last_dose_change": "2024-03-02"},
            "last_dose_change: is after the sample was drawn; give the regimen in force",
        ),
        (
            {"sample.drawn_at": "2024-03-01"},
            f"sample.drawn_at: must be an ISO-8601 date and time {ISO_EXAMPLE}, not '2024-03-01'",
        ),
        (
            {"sample.drawn_at": "2024-03-01T25:00:00+01:00"},
            f"sample.drawn_at: must be an ISO-8601 date and time {ISO_EXAMPLE}, "
            "not '2024-03-01T25:00:00+01:00'",
        ),
        (
            {"sample.drawn_at": "2024-03-01T09:00:00"},
            f"sample.drawn_at: needs a time zone offset {ISO_EXAMPLE}, got '2024-03-01T09:00:00'",
        ),
        ({"sample.unit": None}, "sample.unit: is required with a concentration"),
        ({"sample.unit": REMOVE}, "sample.unit: is required with a concentration"),
        ({"adverse_events": {"term": "Fatigue"}}, "adverse_events: must be a list"),
        (
            {"adverse_events.0.grade": 6},
            "adverse_events[0].grade: must be a whole number from 1 to 5, not 6",
        ),
        (
            {"adverse_events.0.term": "Tiredness"},
            "adverse_events[0].term: 'Tiredness' is not a CTCAE v5.0 term",
        ),
        (
            {"adverse_events.0.resolved": "2024-01-31"},
            "adverse_events[0].resolved: is before the onset",
        ),
        (
            {"adverse_events.0.action": "paused"},
            "adverse_events[0].action: must be one of none, interrupted, reduced, discontinued",
        ),
    ],
)
def test_a_bad_field_is_refused_with_a_message_saying_what_is_wrong(changes, message):
    with pytest.raises(InputError) as caught:
        parse_case(changed(**changes), FIND_DRUG)
    assert str(caught.value) == message


def test_a_payload_that_is_not_an_object_is_refused_as_the_case():
    with pytest.raises(InputError) as caught:
        parse_case([CASE], FIND_DRUG)
    assert str(caught.value) == "case: must be a JSON object"


# --- the edges of what is accepted ------------------------------------------------------------


def test_four_administrations_a_day_are_accepted():
    payload = changed(**{"regimen.administrations_per_day": 4})
    payload["sample"]["last_dose_at"] = "2024-03-01T03:00:00+01:00"
    assert parse_case(payload, FIND_DRUG).regimen.administrations_per_day == 4


def test_a_grade_5_event_is_accepted_for_a_term_that_has_grade_5():
    event = parse_adverse_event(
        {"term": "Hepatic failure", "grade": 5, "onset": "2024-02-01", "related": True},
        "adverse_events[0]",
    )
    assert event.grade == 5


def test_an_event_resolved_on_its_onset_day_is_accepted_and_keeps_its_dates():
    payload = changed(**{"adverse_events.0.resolved": "2024-02-01"})
    event = parse_case(payload, FIND_DRUG).adverse_events[0]
    assert (event.onset.isoformat(), event.resolved.isoformat()) == ("2024-02-01", "2024-02-01")


def test_an_event_resolved_before_the_draw_does_not_hold_back_an_increase():
    payload = changed(**{"adverse_events.0.grade": 3, "adverse_events.0.resolved": "2024-02-15"})
    output = advise_json(payload, FIND_DRUG)
    assert output["worst_active_grade"] == 0
    assert output["action"] == "increase"


@pytest.mark.parametrize(
    "changes",
    [
        # drawn on the day the treatment started.
        {"treatment_start": "2024-03-01", "last_dose_change": None},
        # the last change on the start day, and on the draw day.
        {"last_dose_change": "2023-10-02"},
        {"last_dose_change": "2024-03-01"},
    ],
)
def test_dates_on_the_same_day_are_in_order(changes):
    case = parse_case(changed(**changes), FIND_DRUG)
    assert case.sample.drawn_at.date().isoformat() == "2024-03-01"


def test_the_last_dose_change_decides_whether_the_advice_is_provisional():
    output = advise_json(changed(last_dose_change="2024-02-28"), FIND_DRUG)
    assert output["provisional"] is True
    assert output["warnings"] == ["not_steady_state", "nonlinear_absorption"]


def test_a_result_without_the_below_lloq_flag_is_a_measured_result():
    output = advise_json(changed(**{"sample.below_lloq": REMOVE}), FIND_DRUG)
    assert output["evaluable"] is True
    assert output["ctrough_ng_ml"] == 2870


def test_a_drug_whose_only_row_has_an_indication_still_needs_it_named():
    only_gist = catalogue_finder(row for row in read_catalogue() if row.label == "imatinib (gist)")
    payload = changed(drug="imatinib", regimen={"daily_dose_mg": 400, "administrations_per_day": 1})
    with pytest.raises(InputError) as caught:
        parse_case(payload, only_gist)
    assert str(caught.value) == "indication: is required for imatinib; use one of gist"
    payload["indication"] = "gist"
    assert parse_case(payload, only_gist).drug.label == "imatinib (gist)"


def test_the_output_names_the_indication_the_upper_threshold_and_the_current_frequency():
    payload = changed(
        drug="sunitinib",
        indication="intermittent",
        regimen={"daily_dose_mg": 50, "administrations_per_day": 1},
        last_dose_change=None,
        treatment_start="2024-02-26",
        adverse_events=[],
    )
    payload["sample"] = {
        "drawn_at": "2024-03-01T09:00:00+01:00",
        "last_dose_at": "2024-02-29T09:00:00+01:00",
        "concentration": 62.5,
        "unit": "ng/mL",
    }
    output = advise_json(payload, FIND_DRUG)
    assert output["indication"] == "intermittent"
    assert output["upper_threshold_ng_ml"] == 100
    assert output["current_administrations_per_day"] == 1
    assert output["action"] == "continue"


@pytest.mark.parametrize("dose", [1_000_001, 4e28, 1e300])
def test_a_daily_dose_beyond_a_kilogram_is_refused_naming_the_field(dose):
    outcome = advice_or_input_error(changed(**{"regimen.daily_dose_mg": dose}))
    assert isinstance(outcome, InputError)
    assert outcome.field == "regimen.daily_dose_mg"
    assert "must be at most 1000000 mg/day" in str(outcome)


def test_a_kilogram_a_day_is_still_advised_on():
    outcome = advice_or_input_error(changed(**{"regimen.daily_dose_mg": 1_000_000}))
    assert not isinstance(outcome, InputError)
    assert sum(outcome["proposed_split_mg"]) == outcome["proposed_daily_dose_mg"]


def advice_or_input_error(payload):
    try:
        return advise_json(payload, FIND_DRUG)
    except InputError as error:
        return error
