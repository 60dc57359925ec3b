"""docs/clinical-rules.md §11: the `advise` JSON case, its validation and the output object."""

import copy
import json
from decimal import Decimal

import pytest

from advice.engine.case_input import (
    advice_to_json,
    advise_json,
    catalogue_finder,
    json_number,
    parse_case,
    shipped_catalogue_finder,
)
from advice.engine.catalogue import read_catalogue
from advice.engine.errors import InputError
from advice.engine.rules import advise

FIND_DRUG = shipped_catalogue_finder()

DOCUMENTED_CASE = {
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

OUTPUT_KEYS = {
    "evaluable",
    "reasons",
    "hours_after_dose",
    "ctrough_ng_ml",
    "method",
    "target_ng_ml",
    "action",
    "current_daily_dose_mg",
    "proposed_daily_dose_mg",
    "proposed_split_mg",
    "predicted_ctrough_ng_ml",
    "warnings",
    "checks",
    "text",
}


REMOVE = object()


def with_change(path, value):
    """DOCUMENTED_CASE with the value at a dotted path (list indexes as numbers) replaced or
    removed."""
    payload = copy.deepcopy(DOCUMENTED_CASE)
    *parents, last = path.split(".")
    target = payload
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if isinstance(target, list):
        target[int(last)] = value
    elif value is REMOVE:
        del target[last]
    else:
        target[last] = value
    return payload


def test_the_spec_example():
    output = advise_json(DOCUMENTED_CASE, FIND_DRUG)
    assert output.keys() >= OUTPUT_KEYS
    assert output["evaluable"] is True
    assert output["reasons"] == []
    assert output["hours_after_dose"] == 12
    assert output["ctrough_ng_ml"] == 2870
    assert output["method"] == "measured"
    assert output["target_ng_ml"] == 3750
    assert output["action"] == "increase"
    assert output["current_daily_dose_mg"] == 600
    assert output["proposed_daily_dose_mg"] == 800
    assert output["proposed_split_mg"] == [400, 400]
    assert output["predicted_ctrough_ng_ml"] == 3826.67
    assert output["warnings"] == ["nonlinear_absorption"]
    assert output["checks"] == ["adherence", "drug_interactions"]
    assert output["provisional"] is False
    assert output["worst_active_grade"] == 1
    assert output["drug"] == "sorafenib"
    assert output["proposed_administrations_per_day"] == 2
    assert output["text"].startswith("Estimated Ctrough 2870 ng/mL is below the target")


def _assert_plain_json(value):
    if isinstance(value, dict):
        for item in value.values():
            _assert_plain_json(item)
    elif isinstance(value, list):
        for item in value:
            _assert_plain_json(item)
    else:
        assert value is None or isinstance(value, bool | int | float | str), type(value)


def test_output_holds_json_values_only():
    output = advise_json(DOCUMENTED_CASE, FIND_DRUG)
    _assert_plain_json(output)
    assert json.loads(json.dumps(output)) == output
    assert type(output["ctrough_ng_ml"]) is int
    assert type(output["predicted_ctrough_ng_ml"]) is float


@pytest.mark.parametrize(
    ("value", "expected"),
    [(Decimal("2870.00"), 2870), (Decimal("12.50"), 12.5), (Decimal("37.5"), 37.5), (None, None)],
)
def test_json_number(value, expected):
    result = json_number(value)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("drug", "aspirin", "drug"),
        ("drug", 5, "drug"),
        ("drug", REMOVE, "drug"),
        ("indication", "hcc", "indication"),
        ("indication", 3, "indication"),
        ("phase", "titration", "phase"),
        ("phase", None, "phase"),
        ("regimen", [600, 2], "regimen"),
        ("regimen.daily_dose_mg", 0, "regimen.daily_dose_mg"),
        ("regimen.daily_dose_mg", -200, "regimen.daily_dose_mg"),
        ("regimen.daily_dose_mg", "600", "regimen.daily_dose_mg"),
        ("regimen.daily_dose_mg", True, "regimen.daily_dose_mg"),
        ("regimen.administrations_per_day", 0, "regimen.administrations_per_day"),
        ("regimen.administrations_per_day", 5, "regimen.administrations_per_day"),
        ("regimen.administrations_per_day", 2.5, "regimen.administrations_per_day"),
        ("regimen.administrations_per_day", True, "regimen.administrations_per_day"),
        ("regimen.administrations_per_day", "2", "regimen.administrations_per_day"),
        ("regimen.tablets", 4, "regimen.tablets"),
        ("treatment_start", "02-10-2023", "treatment_start"),
        ("treatment_start", "2023-02-30", "treatment_start"),
        ("treatment_start", None, "treatment_start"),
        ("treatment_start", "2024-03-02", "sample.drawn_at"),
        ("last_dose_change", "2023-01-01", "last_dose_change"),
        ("last_dose_change", "2024-03-02", "last_dose_change"),
        ("last_dose_change", "yesterday", "last_dose_change"),
        ("sample", None, "sample"),
        ("sample.drawn_at", "2024-03-01T09:00:00", "sample.drawn_at"),
        ("sample.drawn_at", "2024-03-01", "sample.drawn_at"),
        ("sample.drawn_at", "01/03/2024 09:00", "sample.drawn_at"),
        ("sample.drawn_at", "2024-03-01T25:00:00+01:00", "sample.drawn_at"),
        ("sample.drawn_at", 1709280000, "sample.drawn_at"),
        ("sample.drawn_at", REMOVE, "sample.drawn_at"),
        ("sample.last_dose_at", "2024-02-29T21:00:00", "sample.last_dose_at"),
        ("sample.unit", "mmol", "sample.unit"),
        ("sample.unit", "mmol/L", "sample.unit"),
        ("sample.unit", None, "sample.unit"),
        ("sample.concentration", -5, "sample.concentration"),
        ("sample.concentration", "abc", "sample.concentration"),
        ("sample.concentration", "2870", "sample.concentration"),
        ("sample.concentration", 0, "sample.concentration"),
        ("sample.concentration", None, "sample.concentration"),
        ("sample.concentration", float("nan"), "sample.concentration"),
        ("sample.concentration", False, "sample.concentration"),
        ("sample.below_lloq", "false", "sample.below_lloq"),
        ("sample.below_lloq", 0, "sample.below_lloq"),
        ("sample.below_LLOQ", True, "sample.below_LLOQ"),
        ("adverse_events", {"term": "Fatigue"}, "adverse_events"),
        ("adverse_events.0", "Fatigue", "adverse_events[0]"),
        ("adverse_events.0.grade", 7, "adverse_events[0].grade"),
        ("adverse_events.0.grade", 0, "adverse_events[0].grade"),
        ("adverse_events.0.grade", 2.0, "adverse_events[0].grade"),
        ("adverse_events.0.grade", "2", "adverse_events[0].grade"),
        # Fatigue has no grade 4 or 5 in CTCAE v5.0.
        ("adverse_events.0.grade", 4, "adverse_events[0].grade"),
        ("adverse_events.0.term", "Tiredness", "adverse_events[0].term"),
        ("adverse_events.0.term", "", "adverse_events[0].term"),
        ("adverse_events.0.onset", "2024-2-1", "adverse_events[0].onset"),
        ("adverse_events.0.resolved", "2024-01-31", "adverse_events[0].resolved"),
        ("adverse_events.0.related", "yes", "adverse_events[0].related"),
        ("adverse_events.0.related", REMOVE, "adverse_events[0].related"),
        ("adverse_events.0.action", "paused", "adverse_events[0].action"),
        ("adverse_events.0.severity", "mild", "adverse_events[0].severity"),
    ],
)
def test_bad_input_names_the_field(path, value, field):
    with pytest.raises(InputError) as caught:
        parse_case(with_change(path, value), FIND_DRUG)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_a_payload_that_is_not_an_object():
    with pytest.raises(InputError) as caught:
        parse_case([DOCUMENTED_CASE], FIND_DRUG)
    assert caught.value.field == "case"


@pytest.mark.parametrize(
    ("indication", "message"),
    [
        (None, "indication: is required for sunitinib; use one of continuous, intermittent"),
        (
            "daily",
            "indication: 'daily' is not valid for sunitinib; use one of continuous, intermittent",
        ),
    ],
)
def test_indication_lists_the_valid_ones(indication, message):
    payload = with_change("drug", "sunitinib")
    payload["indication"] = indication
    payload["regimen"] = {"daily_dose_mg": 50, "administrations_per_day": 1}
    with pytest.raises(InputError) as caught:
        parse_case(payload, FIND_DRUG)
    assert str(caught.value) == message


def test_indication_is_matched_ignoring_case():
    payload = with_change("drug", "Imatinib")
    payload["indication"] = "GIST"
    payload["regimen"] = {"daily_dose_mg": 400, "administrations_per_day": 1}
    case = parse_case(payload, FIND_DRUG)
    assert case.drug.label == "imatinib (gist)"
    assert case.drug.target_ng_ml == Decimal("1100")


def test_grade_error_lists_the_terms_grades():
    with pytest.raises(InputError, match="Fatigue has no grade 4; its grades are 1, 2, 3"):
        parse_case(with_change("adverse_events.0.grade", 4), FIND_DRUG)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("indication", REMOVE),
        ("last_dose_change", None),
        ("last_dose_change", REMOVE),
        ("adverse_events", REMOVE),
        ("adverse_events", []),
        ("adverse_events.0.resolved", REMOVE),
        ("adverse_events.0.action", "none"),
        ("adverse_events.0.term", "  fatigue "),
        ("sample.below_lloq", REMOVE),
        ("sample.drawn_at", "2024-03-01T08:00:00Z"),
        ("sample.drawn_at", "2024-03-01 09:00:00+01:00"),
        ("sample.unit", "µg/L"),
    ],
)
def test_optional_and_lenient_forms_are_accepted(path, value):
    case = parse_case(with_change(path, value), FIND_DRUG)
    assert case.drug.drug == "sorafenib"


def test_parsed_case():
    case = parse_case(with_change("adverse_events.0.term", "FATIGUE"), FIND_DRUG)
    assert case.regimen.daily_dose_mg == Decimal("600")
    assert case.sample.concentration_ng_ml == Decimal("2870")
    assert case.sample.drawn_at.utcoffset().total_seconds() == 3600
    assert case.adverse_events[0].term == "Fatigue"
    assert case.adverse_events[0].related is True


@pytest.mark.parametrize(
    ("concentration", "unit", "ctrough"),
    [
        (2.87, "mg/L", 2870),
        (2.87, "ug/mL", 2870),
        (2870, "ug/L", 2870),
        # 1000 nmol/L x 464.8 / 1000 = 464.8 ng/mL
        (1000, "nmol/L", 464.8),
    ],
)
def test_units_are_converted_before_advice(concentration, unit, ctrough):
    payload = with_change("sample.concentration", concentration)
    payload["sample"]["unit"] = unit
    assert advise_json(payload, FIND_DRUG)["ctrough_ng_ml"] == ctrough


def test_below_lloq_without_a_value():
    payload = with_change("sample.concentration", None)
    payload["sample"]["below_lloq"] = True
    payload["sample"]["unit"] = None
    output = advise_json(payload, FIND_DRUG)
    assert output["action"] == "resample"
    assert output["reasons"] == ["below_lloq"]
    assert output["checks"] == ["adherence"]
    assert output["ctrough_ng_ml"] is None
    assert output["predicted_ctrough_ng_ml"] is None
    assert output["proposed_split_mg"] == [400, 200]


def test_last_dose_unknown():
    output = advise_json(with_change("sample.last_dose_at", None), FIND_DRUG)
    assert output["action"] == "resample"
    assert output["reasons"] == ["last_dose_missing"]
    assert output["hours_after_dose"] is None
    assert output["method"] is None


def test_catalogue_finder_returns_every_row_of_a_drug():
    find = catalogue_finder(read_catalogue())
    assert {row.indication for row in find("sunitinib")} == {"intermittent", "continuous"}
    assert [row.drug for row in find(" Sorafenib ")] == ["sorafenib"]
    assert list(find("aspirin")) == []


def test_advice_to_json_of_an_auc_drug():
    payload = with_change("drug", "axitinib")
    payload["regimen"] = {"daily_dose_mg": 10, "administrations_per_day": 2}
    output = advice_to_json(advise(parse_case(payload, FIND_DRUG)))
    assert output["action"] == "no_target"
    assert output["target_ng_ml"] is None
    assert output["proposed_split_mg"] == [5, 5]
