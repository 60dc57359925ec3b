"""Reading a dose history (pure): regimen on a day, status, phase (docs/study-outcomes.md §5,
§7)."""

import datetime
from decimal import Decimal

import pytest

from cases.regimens import DoseStep, last_change_on, phase_on, status_on, step_on

D = datetime.date


def step(day: str, mg: str, times: int = 2) -> DoseStep:
    return DoseStep(D.fromisoformat(day), Decimal(mg), times)


HISTORY = [
    step("2024-01-08", "400"),
    step("2024-02-05", "600"),
    step("2024-03-04", "0"),
    step("2024-03-18", "600"),
    step("2024-04-15", "800"),
    step("2024-05-01", "800", 1),
]


@pytest.mark.parametrize(
    ("day", "expected_mg"),
    [
        ("2024-01-07", None),
        ("2024-01-08", "400"),
        ("2024-02-04", "400"),
        ("2024-02-05", "600"),
        ("2024-03-10", "0"),
        ("2024-03-18", "600"),
        ("2024-06-01", "800"),
    ],
)
def test_step_on_takes_the_latest_regimen_in_effect(day, expected_mg):
    found = step_on(D.fromisoformat(day), HISTORY)
    assert (found.daily_dose_mg if found else None) == (
        Decimal(expected_mg) if expected_mg else None
    )


@pytest.mark.parametrize(
    ("day", "stop", "expected"),
    [
        ("2024-02-10", None, "active"),
        ("2024-03-04", None, "interrupted"),
        ("2024-03-17", None, "interrupted"),
        ("2024-03-18", None, "active"),
        ("2024-06-01", "2024-06-01", "stopped"),
        ("2024-05-31", "2024-06-01", "active"),
    ],
)
def test_status_follows_interruptions_and_stop(day, stop, expected):
    stop_date = D.fromisoformat(stop) if stop else None
    assert status_on(D.fromisoformat(day), HISTORY, stop_date) == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [("2024-04-14", "step_up"), ("2024-04-15", "maintenance"), ("2024-07-01", "maintenance")],
)
def test_phase_is_step_up_until_the_standard_dose_took_effect(day, expected):
    assert phase_on(D.fromisoformat(day), HISTORY, Decimal(800)) == expected


def test_phase_stays_maintenance_after_a_later_reduction():
    history = [*HISTORY, step("2024-08-01", "600")]
    assert phase_on(D(2024, 9, 1), history, Decimal(800)) == "maintenance"


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2024-01-20", "2024-01-08"),
        ("2024-02-20", "2024-02-05"),
        ("2024-03-20", "2024-03-18"),
        # 800 mg/day moved from BID to QD on 2024-05-01: the daily dose did not change.
        ("2024-05-20", "2024-04-15"),
    ],
)
def test_last_change_is_when_the_current_daily_dose_began(day, expected):
    assert last_change_on(D.fromisoformat(day), HISTORY) == D.fromisoformat(expected)


def test_no_history_means_no_change():
    assert last_change_on(D(2024, 1, 1), []) is None
