"""Hours after the dose are real hours, also across a daylight-saving change
(docs/clinical-rules.md §2): a clock moved forward must not add an hour to the interval."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from advice.engine.catalogue import read_catalogue
from advice.engine.pk import SampleInput, estimate_ctrough

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
SORAFENIB = next(facts for facts in read_catalogue() if facts.drug == "sorafenib")


def _hours_after_dose(last_dose_at: datetime, drawn_at: datetime) -> Decimal | None:
    sample = SampleInput(
        drawn_at=drawn_at, last_dose_at=last_dose_at, concentration_ng_ml=Decimal(3000)
    )
    estimate = estimate_ctrough(
        sample,
        drug=SORAFENIB,
        administrations_per_day=2,
        treatment_start=date(2024, 1, 8),
        last_dose_change=None,
    )
    return estimate.hours_after_dose


@pytest.mark.parametrize(
    ("last_dose_at", "drawn_at", "real_hours"),
    [
        # Summer time starts on 31 March 2024 at 02:00: the night has 23 hours.
        (
            datetime(2024, 3, 30, 21, 0, tzinfo=AMSTERDAM),
            datetime(2024, 3, 31, 10, 0, tzinfo=AMSTERDAM),
            Decimal("12.00"),
        ),
        # Winter time starts on 27 October 2024 at 03:00: the night has 25 hours.
        (
            datetime(2024, 10, 26, 21, 0, tzinfo=AMSTERDAM),
            datetime(2024, 10, 27, 8, 0, tzinfo=AMSTERDAM),
            Decimal("12.00"),
        ),
        # No change in between: wall-clock and real hours agree.
        (
            datetime(2024, 2, 4, 21, 0, tzinfo=AMSTERDAM),
            datetime(2024, 2, 5, 9, 0, tzinfo=AMSTERDAM),
            Decimal("12.00"),
        ),
    ],
)
def test_hours_after_the_dose_are_real_hours_in_one_time_zone(last_dose_at, drawn_at, real_hours):
    last_dose = last_dose_at.replace(tzinfo=AMSTERDAM)
    drawn = drawn_at.replace(tzinfo=AMSTERDAM)
    assert drawn.astimezone(ZoneInfo("UTC")) - last_dose.astimezone(ZoneInfo("UTC")) == timedelta(
        hours=12
    )
    assert _hours_after_dose(last_dose, drawn) == real_hours


def test_the_same_moments_in_other_offsets_give_the_same_hours():
    last_dose = datetime(2024, 3, 30, 21, 0, tzinfo=AMSTERDAM)
    drawn = datetime(2024, 3, 31, 10, 0, tzinfo=AMSTERDAM)
    in_utc = _hours_after_dose(
        last_dose.astimezone(ZoneInfo("UTC")), drawn.astimezone(ZoneInfo("UTC"))
    )
    assert in_utc == _hours_after_dose(last_dose, drawn) == Decimal("12.00")
