"""Invariants of the engine over every row of drugs.csv."""

import json
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from advice.engine.case import AdverseEventInput, AdviceCase, Regimen
from advice.engine.case_input import advise_json, shipped_catalogue_finder
from advice.engine.catalogue import read_catalogue
from advice.engine.dosing import split_daily_dose
from advice.engine.errors import InputError
from advice.engine.pk import SampleInput, estimate_ctrough
from advice.engine.rules import advise
from advice.engine.units import ACCEPTED_UNITS, from_ng_ml, to_ng_ml

CATALOGUE = tuple(read_catalogue())
CET = timezone(timedelta(hours=1))
DRAWN_AT = datetime(2024, 6, 3, 9, 0, tzinfo=CET)

drugs = st.sampled_from(CATALOGUE)
concentrations = st.decimals(
    min_value=Decimal("0.01"), max_value=Decimal("100000"), places=2, allow_nan=False
)
phases = st.sampled_from(["step_up", "maintenance"])
grades = st.integers(min_value=0, max_value=5)


def trough_case(drug, *, daily, concentration, phase, grade, administrations=None):
    """A sample drawn exactly at trough on day 1 of a cycle; `grade` 0 means no AE."""
    administrations = administrations or drug.administrations_per_day
    events = (
        ()
        if grade == 0
        else (
            AdverseEventInput(
                term="Diarrhea", grade=grade, onset=date(2024, 6, 1), resolved=None, related=True
            ),
        )
    )
    return AdviceCase(
        drug=drug,
        phase=phase,
        regimen=Regimen(daily_dose_mg=daily, administrations_per_day=administrations),
        treatment_start=date(2024, 6, 3),
        last_dose_change=None,
        sample=SampleInput(
            drawn_at=DRAWN_AT,
            last_dose_at=DRAWN_AT - timedelta(hours=24 / administrations),
            concentration_ng_ml=concentration,
        ),
        adverse_events=events,
    )


@settings(max_examples=300, deadline=None)
@given(data=st.data(), drug=drugs, concentration=concentrations, phase=phases, grade=grades)
def test_proposed_dose_is_a_catalogue_level_within_the_maximum(
    data, drug, concentration, phase, grade
):
    current = data.draw(st.sampled_from(drug.dose_levels_mg))
    result = advise(
        trough_case(drug, daily=current, concentration=concentration, phase=phase, grade=grade)
    )
    assert result.proposed_daily_dose_mg in drug.dose_levels_mg
    assert result.proposed_daily_dose_mg <= drug.max_daily_dose_mg
    assert sum(result.proposed_split_mg) == result.proposed_daily_dose_mg
    assert len(result.proposed_split_mg) == result.proposed_administrations_per_day


@settings(max_examples=300, deadline=None)
@given(
    drug=drugs,
    concentration=concentrations,
    phase=phases,
    grade=grades,
    current=st.decimals(min_value=Decimal("0.5"), max_value=Decimal("2500"), places=1),
)
def test_a_changed_dose_is_always_a_catalogue_level(drug, concentration, phase, grade, current):
    result = advise(
        trough_case(drug, daily=current, concentration=concentration, phase=phase, grade=grade)
    )
    if result.proposed_daily_dose_mg != current:
        assert result.proposed_daily_dose_mg in drug.dose_levels_mg
        assert result.proposed_daily_dose_mg <= drug.max_daily_dose_mg


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    drug=drugs,
    concentration=concentrations,
    phase=phases,
    grade=st.integers(min_value=2, max_value=5),
)
def test_no_escalation_with_active_toxicity_of_grade_2_or_higher(
    data, drug, concentration, phase, grade
):
    current = data.draw(st.sampled_from(drug.dose_levels_mg))
    result = advise(
        trough_case(drug, daily=current, concentration=concentration, phase=phase, grade=grade)
    )
    assert result.action not in ("increase", "continue_step_up")
    assert result.proposed_daily_dose_mg <= current


@settings(max_examples=300, deadline=None)
@given(data=st.data(), drug=drugs, concentration=concentrations)
def test_estimate_is_non_decreasing_in_time_and_exact_at_tau(data, drug, concentration):
    administrations = drug.administrations_per_day
    tau_min = 24 * 60 // administrations
    if drug.extrapolation:
        low = int(drug.earliest_extrapolation_h * 60) + 1
        high = tau_min * 3 // 2
    else:
        low, high = tau_min - 60, tau_min + 60
    first = data.draw(st.integers(min_value=low, max_value=high))
    second = data.draw(st.integers(min_value=first, max_value=high))

    def at(minutes):
        return estimate_ctrough(
            SampleInput(
                drawn_at=DRAWN_AT,
                last_dose_at=DRAWN_AT - timedelta(minutes=minutes),
                concentration_ng_ml=concentration,
            ),
            drug=drug,
            administrations_per_day=administrations,
            treatment_start=DRAWN_AT.date(),
            last_dose_change=None,
        )

    early, late, trough = at(first), at(second), at(tau_min)
    assert early.evaluable
    assert late.evaluable
    assert trough.evaluable
    assert early.ctrough_ng_ml <= late.ctrough_ng_ml
    assert trough.ctrough_ng_ml == concentration.quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert trough.method == "measured"


@settings(max_examples=500, deadline=None)
@given(
    drug=drugs,
    unit=st.sampled_from(ACCEPTED_UNITS),
    value=st.decimals(min_value=0, max_value=Decimal("1e7"), places=4, allow_nan=False),
)
def test_unit_conversions_round_trip(drug, unit, value):
    molar_mass = drug.molar_mass_g_mol
    assert from_ng_ml(to_ng_ml(value, unit, molar_mass), unit, molar_mass) == value
    back = to_ng_ml(from_ng_ml(value, unit, molar_mass), unit, molar_mass)
    assert abs(back - value) <= Decimal("1e-18") * max(value, Decimal(1))


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    drug=drugs,
    administrations=st.integers(min_value=1, max_value=4),
)
def test_every_split_adds_up_and_leads_with_the_larger_part(data, drug, administrations):
    daily = data.draw(st.sampled_from(drug.dose_levels_mg))
    split = split_daily_dose(daily, administrations, drug)
    assert sum(split.parts_mg) == daily
    assert list(split.parts_mg) == sorted(split.parts_mg, reverse=True)
    assert all(part > 0 for part in split.parts_mg)
    assert (split.administrations_per_day != administrations) is (
        "administrations_changed" in split.warnings
    )
    if drug.max_single_dose_mg is not None and "above_max_single_dose" not in split.warnings:
        assert split.parts_mg[0] <= drug.max_single_dose_mg


@settings(max_examples=400, deadline=None)
@given(
    data=st.data(),
    drug=drugs,
    phase=phases,
    ratio=st.decimals(min_value=Decimal("0.05"), max_value=Decimal("3"), places=2),
    unit=st.sampled_from(["ng/mL", "ug/L", "mg/L", "nmol/L"]),
    below_lloq=st.booleans(),
    grade=st.integers(min_value=0, max_value=3),
)
def test_every_catalogue_row_runs_through_advise(data, drug, phase, ratio, unit, below_lloq, grade):
    administrations = drug.administrations_per_day
    tau_h = 24 / administrations
    hours = data.draw(
        st.floats(
            min_value=float(drug.earliest_extrapolation_h),
            max_value=1.5 * tau_h,
            allow_nan=False,
        )
    )
    reference = drug.target_ng_ml if drug.has_cmin_target else drug.mean_exposure
    concentration_ng_ml = (reference or Decimal(10)) * ratio
    concentration = float(
        concentration_ng_ml / {"ng/mL": 1, "ug/L": 1, "mg/L": 1000}.get(unit, 1)
        if unit != "nmol/L"
        else concentration_ng_ml * 1000 / drug.molar_mass_g_mol
    )
    current = data.draw(st.sampled_from(drug.dose_levels_mg))
    last_dose = DRAWN_AT - timedelta(hours=hours)
    payload = {
        "drug": drug.drug.upper(),
        "indication": drug.indication,
        "phase": phase,
        "regimen": {
            "daily_dose_mg": float(current),
            "administrations_per_day": administrations,
        },
        "treatment_start": "2024-01-01",
        "last_dose_change": "2024-04-01",
        "sample": {
            "drawn_at": DRAWN_AT.isoformat(),
            "last_dose_at": last_dose.isoformat(),
            "concentration": None if below_lloq else concentration,
            "unit": unit,
            "below_lloq": below_lloq,
        },
        "adverse_events": []
        if grade == 0
        else [
            {
                "term": "Fatigue",
                "grade": grade,
                "onset": "2024-05-01",
                "resolved": None,
                "related": True,
            }
        ],
    }
    output = advise_json(json.loads(json.dumps(payload)), shipped_catalogue_finder())
    assert json.loads(json.dumps(output)) == output
    assert output["text"]
    assert output["evaluable"] is (output["reasons"] == [])
    assert (output["action"] == "resample") is (not output["evaluable"])
    if not drug.has_cmin_target and output["evaluable"]:
        assert output["action"] == "no_target"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**12), max_value=10**12)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=6,
)

VALID_CASE = {
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
        {"term": "Fatigue", "grade": 2, "onset": "2024-02-01", "resolved": None, "related": True}
    ],
}
LEAF_PATHS = [(key,) for key in VALID_CASE if not isinstance(VALID_CASE[key], dict | list)] + [
    ("regimen", "daily_dose_mg"),
    ("regimen", "administrations_per_day"),
    *(("sample", key) for key in VALID_CASE["sample"]),
    *(("adverse_events", 0, key) for key in VALID_CASE["adverse_events"][0]),
    ("regimen",),
    ("sample",),
    ("adverse_events",),
]


@settings(max_examples=500, deadline=None)
@given(path=st.sampled_from(LEAF_PATHS), value=json_values)
def test_any_malformed_value_gives_an_input_error_or_an_advice(path, value):
    payload = json.loads(json.dumps(VALID_CASE))
    target = payload
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    outcome = advise_or_input_error(payload)
    if isinstance(outcome, InputError):
        assert outcome.field
        assert outcome.message
    else:
        assert json.loads(json.dumps(outcome)) == outcome


def advise_or_input_error(payload):
    try:
        return advise_json(payload, shipped_catalogue_finder())
    except InputError as error:
        return error
