"""docs/clinical-rules.md §2: evaluability, reason codes, steady state and the Ctrough formula."""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from advice.engine.catalogue import read_catalogue
from advice.engine.pk import (
    REASON_ORDER,
    SampleInput,
    cycle_day,
    dosing_interval_h,
    estimate_ctrough,
    is_off_cycle,
)

DRUGS = {facts.label: facts for facts in read_catalogue()}
CET = timezone(timedelta(hours=1))
START = date(2024, 1, 1)


def draw(hours_after_dose, *, drawn_at=datetime(2024, 3, 1, 9, 0, tzinfo=CET)):
    """The last dose `hours_after_dose` (float hours) before `drawn_at`."""
    return drawn_at, drawn_at - timedelta(hours=hours_after_dose)


def estimate(
    label="sorafenib",
    *,
    hours=12.0,
    concentration="2870",
    administrations=None,
    drawn_at=datetime(2024, 3, 1, 9, 0, tzinfo=CET),
    last_dose_known=True,
    below_lloq=False,
    start=START,
    last_dose_change=None,
):
    drug = DRUGS[label]
    drawn, last_dose = draw(hours, drawn_at=drawn_at)
    sample = SampleInput(
        drawn_at=drawn,
        last_dose_at=last_dose if last_dose_known else None,
        concentration_ng_ml=None if concentration is None else Decimal(concentration),
        below_lloq=below_lloq,
    )
    return estimate_ctrough(
        sample,
        drug=drug,
        administrations_per_day=administrations or drug.administrations_per_day,
        treatment_start=start,
        last_dose_change=last_dose_change,
    )


@pytest.mark.parametrize(("administrations", "tau"), [(1, "24"), (2, "12"), (3, "8"), (4, "6")])
def test_dosing_interval(administrations, tau):
    assert dosing_interval_h(administrations) == Decimal(tau)


# docs/clinical-rules.md §2.3: Ctrough = C x 0.5 ^ ((tau - t) / t1/2); values computed by hand
# at 40 digits.
@pytest.mark.parametrize(
    ("label", "hours", "concentration", "ctrough", "method"),
    [
        # sorafenib BID: tau 12 h, t1/2 36 h; the worked example of docs/clinical-rules.md §3 at
        # trough.
        ("sorafenib", 12, "2870", "2870.00", "measured"),
        # 2 h early: 2870 x 0.5^(2/36) = 2761.5824...
        ("sorafenib", 10, "2870", "2761.58", "extrapolated"),
        # 2 h late (the formula holds after tau too): 2870 x 0.5^(-2/36) = 2982.6739...
        ("sorafenib", 14, "2870", "2982.67", "extrapolated"),
        # within 0.5 h of tau the method is measured but the factor is still applied.
        ("sorafenib", 12.4, "2870", "2892.19", "measured"),
        ("sorafenib", 12.5, "2870", "2897.76", "measured"),
        ("sorafenib", 11.5, "2870", "2842.50", "measured"),
        ("sorafenib", 16, "2870", "3099.77", "extrapolated"),
        ("sorafenib", 18, "3000", "3367.39", "extrapolated"),
        # imatinib QD: tau 24 h, t1/2 18 h, earliest extrapolation 3 h.
        ("imatinib (gist)", 3, "1193", "531.42", "extrapolated"),
        ("imatinib (gist)", 12, "1193", "751.54", "extrapolated"),
        # sunitinib QD, t1/2 50 h: 1000 x 0.5^(-6/50) = 1086.7348...; 50 x 0.5^(15/50).
        ("sunitinib (continuous)", 30, "1000", "1086.73", "extrapolated"),
        ("sunitinib (continuous)", 9, "50", "40.61", "extrapolated"),
        # pazopanib t1/2 30.9 h: 5000 x 0.5^(20/30.9) = 3192.4829...
        ("pazopanib", 4, "5000", "3192.48", "extrapolated"),
    ],
)
def test_ctrough_formula(label, hours, concentration, ctrough, method):
    result = estimate(label, hours=hours, concentration=concentration)
    assert result.evaluable
    assert result.reasons == ()
    assert result.ctrough_ng_ml == Decimal(ctrough)
    assert result.method == method


def test_measured_window_edge():
    assert estimate(hours=12.5).method == "measured"
    assert estimate(hours=12 + 31 / 60).method == "extrapolated"
    assert estimate(hours=11.5).method == "measured"
    assert estimate(hours=11.49).method == "extrapolated"


def test_ctrough_rounds_half_up_on_the_shown_digits():
    assert estimate(concentration="2870.005").ctrough_ng_ml == Decimal("2870.01")
    assert estimate(concentration="2870.004").ctrough_ng_ml == Decimal("2870.00")


@pytest.mark.parametrize(
    ("drawn_at", "last_dose_at", "hours"),
    [
        ("2024-03-01T09:00:00+01:00", "2024-02-29T21:00:00+01:00", "12.00"),
        ("2024-03-01T09:20:00+01:00", "2024-02-29T21:00:00+01:00", "12.33"),
        ("2024-03-01T09:10:00+01:00", "2024-02-29T21:00:00+01:00", "12.17"),
        # 18 s = 0.005 h: half up.
        ("2024-03-01T09:00:18+01:00", "2024-02-29T21:00:00+01:00", "12.01"),
        # different offsets: draw 08:00 UTC, dose 19:00 UTC the day before.
        ("2024-03-01T09:00:00+01:00", "2024-02-29T21:00:00+02:00", "13.00"),
        ("2024-03-01T09:00:00+01:00", "2024-03-01T10:30:00+01:00", "-1.50"),
    ],
)
def test_hours_after_dose(drawn_at, last_dose_at, hours):
    sample = SampleInput(
        drawn_at=datetime.fromisoformat(drawn_at),
        last_dose_at=datetime.fromisoformat(last_dose_at),
        concentration_ng_ml=Decimal(2870),
    )
    result = estimate_ctrough(
        sample,
        drug=DRUGS["sorafenib"],
        administrations_per_day=2,
        treatment_start=START,
        last_dose_change=None,
    )
    assert result.hours_after_dose == Decimal(hours)


# docs/clinical-rules.md §2.1: each reason code, with the boundary on both sides.
@pytest.mark.parametrize(
    ("kwargs", "reasons"),
    [
        ({"last_dose_known": False}, ("last_dose_missing",)),
        ({"hours": -0.5}, ("last_dose_after_draw",)),
        # sorafenib min_hours_after_dose 10 h.
        ({"hours": 9.99}, ("before_min_time",)),
        ({"hours": 10}, ()),
        # alectinib has no min_hours_after_dose: tmax_h 4 h applies.
        ({"label": "alectinib", "hours": 3.9}, ("before_min_time",)),
        ({"label": "alectinib", "hours": 4}, ()),
        # sorafenib BID: 1.5 x 12 h = 18 h.
        ({"hours": 18}, ()),
        ({"hours": 18.01}, ("missed_dose",)),
        # sorafenib once daily: 1.5 x 24 h = 36 h.
        ({"hours": 36, "administrations": 1}, ()),
        ({"hours": 36.01, "administrations": 1}, ("missed_dose",)),
        # regorafenib cannot be extrapolated: only 23-25 h after a QD dose.
        ({"label": "regorafenib", "hours": 23}, ()),
        ({"label": "regorafenib", "hours": 25}, ()),
        ({"label": "regorafenib", "hours": 22.9}, ("extrapolation_not_valid",)),
        ({"label": "regorafenib", "hours": 25.1}, ("extrapolation_not_valid",)),
        ({"label": "regorafenib", "hours": 2}, ("before_min_time", "extrapolation_not_valid")),
        ({"label": "regorafenib", "hours": 37}, ("missed_dose", "extrapolation_not_valid")),
        ({"below_lloq": True}, ("below_lloq",)),
        ({"below_lloq": True, "concentration": None}, ("below_lloq",)),
        (
            {"below_lloq": True, "concentration": None, "last_dose_known": False},
            ("last_dose_missing", "below_lloq"),
        ),
    ],
)
def test_reasons(kwargs, reasons):
    result = estimate(**kwargs)
    assert result.reasons == reasons
    assert result.evaluable is (reasons == ())
    if reasons:
        assert result.ctrough_ng_ml is None
        assert result.method is None
        assert result.provisional is False


def test_below_lloq_is_never_extrapolated_into_a_number():
    result = estimate(below_lloq=True, concentration="50")
    assert result.ctrough_ng_ml is None
    assert result.hours_after_dose == Decimal("12.00")


def test_last_dose_missing_has_no_hours():
    result = estimate(last_dose_known=False)
    assert result.hours_after_dose is None


def test_every_applicable_code_in_the_fixed_order():
    # regorafenib 21 days on / 7 off from 2024-01-01: 2024-01-22 is day 22, off.
    result = estimate(
        "regorafenib",
        hours=2,
        below_lloq=True,
        drawn_at=datetime(2024, 1, 22, 9, 0, tzinfo=CET),
    )
    assert result.reasons == (
        "before_min_time",
        "extrapolation_not_valid",
        "off_cycle",
        "below_lloq",
    )
    assert list(result.reasons) == [code for code in REASON_ORDER if code in result.reasons]


@pytest.mark.parametrize(
    ("label", "day", "expected_cycle_day", "off"),
    [
        # 21/28: day 1 = start; day 21 on; day 22 (21 days after the start) off.
        ("regorafenib", date(2024, 1, 1), 1, False),
        ("regorafenib", date(2024, 1, 21), 21, False),
        ("regorafenib", date(2024, 1, 22), 22, True),
        ("regorafenib", date(2024, 1, 28), 28, True),
        ("regorafenib", date(2024, 1, 29), 1, False),
        ("regorafenib", date(2024, 2, 11), 14, False),
        ("regorafenib", date(2024, 2, 12), 15, False),
        ("cobimetinib", date(2024, 1, 22), 22, True),
        ("palbociclib", date(2024, 2, 18), 21, False),
        ("palbociclib", date(2024, 2, 19), 22, True),
        # sunitinib 4 weeks on / 2 off = 28/42.
        ("sunitinib (intermittent)", date(2024, 1, 28), 28, False),
        ("sunitinib (intermittent)", date(2024, 1, 29), 29, True),
        ("sunitinib (intermittent)", date(2024, 2, 11), 42, True),
        ("sunitinib (intermittent)", date(2024, 2, 12), 1, False),
        ("sunitinib (continuous)", date(2024, 1, 29), None, False),
    ],
)
def test_cycle_days(label, day, expected_cycle_day, off):
    drug = DRUGS[label]
    assert cycle_day(drug, START, day) == expected_cycle_day
    assert is_off_cycle(drug, START, day) is off


@pytest.mark.parametrize(
    ("drawn_at", "off"),
    [
        # 23:30 on the 21st in New York is already the 22nd in UTC: the draw's own date counts.
        (datetime(2024, 1, 21, 23, 30, tzinfo=timezone(timedelta(hours=-5))), False),
        # 00:30 on the 22nd in CET is still the 21st in UTC.
        (datetime(2024, 1, 22, 0, 30, tzinfo=CET), True),
    ],
)
def test_off_cycle_uses_the_draws_own_calendar_date(drawn_at, off):
    result = estimate("regorafenib", hours=24, drawn_at=drawn_at)
    assert ("off_cycle" in result.reasons) is off


# Steady state: 5 x t1/2 after 00:00 (draw's offset) of the last change or start.
@pytest.mark.parametrize(
    ("drawn_at", "last_dose_change", "steady"),
    [
        # sorafenib 5 x 36 h = 180 h: 2024-02-01 00:00 + 180 h = 2024-02-08 12:00.
        (datetime(2024, 2, 8, 11, 59, tzinfo=CET), date(2024, 2, 1), False),
        (datetime(2024, 2, 8, 12, 0, tzinfo=CET), date(2024, 2, 1), True),
        # In its own offset (+02:00) 12:30 is past the 12:00 of that offset; it would not be
        # if the day started at 00:00 UTC.
        (datetime(2024, 2, 8, 12, 30, tzinfo=timezone(timedelta(hours=2))), date(2024, 2, 1), True),
        # No dose change: the treatment start (2024-01-01) counts.
        (datetime(2024, 1, 8, 11, 59, tzinfo=CET), None, False),
        (datetime(2024, 1, 8, 12, 0, tzinfo=CET), None, True),
        # A dose change recorded before the treatment start: the start counts.
        (datetime(2024, 1, 8, 11, 0, tzinfo=CET), date(2023, 12, 1), False),
    ],
)
def test_steady_state(drawn_at, last_dose_change, steady):
    result = estimate(drawn_at=drawn_at, last_dose_change=last_dose_change)
    assert result.evaluable
    assert result.ctrough_ng_ml == Decimal("2870.00")
    assert result.provisional is not steady
    assert result.warnings == (() if steady else ("not_steady_state",))
    assert (result.steady_state_at is None) is steady


def test_steady_state_moment_is_reported():
    result = estimate(
        drawn_at=datetime(2024, 2, 3, 9, 0, tzinfo=CET), last_dose_change=date(2024, 2, 1)
    )
    assert result.steady_state_at == datetime(2024, 2, 8, 12, 0, tzinfo=CET)


@pytest.mark.parametrize(
    ("drawn_at", "steady"),
    [
        # sunitinib 28/42 from 2024-01-01: cycle 2 starts 2024-02-12 after 14 days off;
        # 5 x 50 h = 250 h later is 2024-02-22 10:00.
        (datetime(2024, 2, 22, 9, 0, tzinfo=CET), False),
        (datetime(2024, 2, 22, 10, 0, tzinfo=CET), True),
        (datetime(2024, 1, 28, 9, 0, tzinfo=CET), True),
    ],
)
def test_each_on_period_of_an_intermittent_schedule_is_a_resumption(drawn_at, steady):
    result = estimate("sunitinib (intermittent)", hours=24, concentration="60", drawn_at=drawn_at)
    assert result.evaluable
    assert result.provisional is not steady


def test_not_evaluable_sample_is_not_flagged_provisional():
    result = estimate(
        hours=20,
        drawn_at=datetime(2024, 1, 2, 9, 0, tzinfo=CET),
    )
    assert result.reasons == ("missed_dose",)
    assert result.warnings == ()
    assert result.provisional is False


def test_auc_drug_still_gets_an_estimate():
    # ibrutinib QD, t1/2 6 h: 100 x 0.5^(12/6) = 25; the advice rules decide no_target.
    result = estimate("ibrutinib", hours=12, concentration="100")
    assert result.evaluable
    assert result.ctrough_ng_ml == Decimal("25.00")


def test_naive_datetimes_are_refused():
    sample = SampleInput(
        drawn_at=datetime(2024, 3, 1, 9, 0),  # noqa: DTZ001 - the refused case
        last_dose_at=None,
        concentration_ng_ml=Decimal(1),
    )
    with pytest.raises(ValueError, match="time zone"):
        estimate_ctrough(
            sample,
            drug=DRUGS["sorafenib"],
            administrations_per_day=2,
            treatment_start=START,
            last_dose_change=None,
        )


# --- edges of the time rules and what an estimate reports -----------------------------------


@pytest.mark.parametrize("administrations", [0, 5])
def test_a_dosing_frequency_outside_1_to_4_is_refused(administrations):
    with pytest.raises(ValueError, match=r"^administrations_per_day must be between 1 and 4$"):
        dosing_interval_h(administrations)


def exact_sample(last_dose_at, drawn_at, concentration="2870"):
    return SampleInput(
        drawn_at=drawn_at, last_dose_at=last_dose_at, concentration_ng_ml=Decimal(concentration)
    )


def estimate_exact(sample, label="sorafenib", administrations=2):
    return estimate_ctrough(
        sample,
        drug=DRUGS[label],
        administrations_per_day=administrations,
        treatment_start=START,
        last_dose_change=None,
    )


@pytest.mark.parametrize(
    ("drawn_at", "reasons"),
    [
        # sorafenib's 10 h minimum is judged on the exact time, fractions of a second included.
        (datetime(2024, 3, 1, 7, 0, 0, 500_000, tzinfo=CET), ()),
        (datetime(2024, 3, 1, 6, 59, 59, 500_000, tzinfo=CET), ("before_min_time",)),
    ],
)
def test_the_minimum_time_after_the_dose_counts_fractions_of_a_second(drawn_at, reasons):
    sample = exact_sample(datetime(2024, 2, 29, 21, 0, tzinfo=CET), drawn_at)
    assert estimate_exact(sample).reasons == reasons


def test_the_estimate_uses_the_time_since_the_dose_to_the_microsecond():
    # dasatinib QD (t1/2 4 h) drawn 35 h 0.999999 s after the dose at 10^9 ng/mL:
    # 10^9 x 0.5^((86400 - 126000.999999) / 14400) = 6727495143.3768... ng/mL. A microsecond
    # moves this estimate by about 0.3 ng/mL.
    dose = datetime(2024, 2, 29, 21, 0, tzinfo=CET)
    sample = exact_sample(dose, dose + timedelta(hours=35, microseconds=999_999), "1e9")
    result = estimate_exact(sample, "dasatinib", 1)
    assert result.ctrough_ng_ml == Decimal("6727495143.38")


@pytest.mark.parametrize("seconds_after_dose", [0, 0.5])
def test_a_sample_drawn_at_the_time_of_the_dose_is_too_early_not_before_the_dose(
    seconds_after_dose,
):
    dose = datetime(2024, 3, 1, 9, 0, tzinfo=CET)
    sample = exact_sample(dose, dose + timedelta(seconds=seconds_after_dose))
    assert estimate_exact(sample).reasons == ("before_min_time",)


@pytest.mark.parametrize(
    ("drawn_at", "last_dose_at", "message"),
    [
        (
            datetime(2024, 3, 1, 9, 0),  # noqa: DTZ001 - the refused case
            None,
            "^drawn_at must carry a time zone offset$",
        ),
        (
            datetime(2024, 3, 1, 9, 0, tzinfo=CET),
            datetime(2024, 2, 29, 21, 0),  # noqa: DTZ001 - the refused case
            "^last_dose_at must carry a time zone offset$",
        ),
    ],
)
def test_a_time_without_offset_is_refused_naming_it(drawn_at, last_dose_at, message):
    with pytest.raises(ValueError, match=message):
        estimate_exact(exact_sample(last_dose_at, drawn_at))


def test_a_sample_without_a_result_must_be_flagged_below_lloq():
    sample = SampleInput(
        drawn_at=datetime(2024, 3, 1, 9, 0, tzinfo=CET),
        last_dose_at=datetime(2024, 2, 29, 21, 0, tzinfo=CET),
        concentration_ng_ml=None,
    )
    with pytest.raises(
        ValueError, match=r"^a sample without a concentration must be flagged below_lloq$"
    ):
        estimate_exact(sample)


def test_steady_state_of_a_sample_drawn_in_utc_counts_from_midnight_utc():
    # sorafenib 5 x 36 h = 180 h after 2024-02-01 00:00 UTC is 2024-02-08 12:00 UTC.
    result = estimate(
        drawn_at=datetime(2024, 2, 3, 9, 0, tzinfo=UTC),
        last_dose_change=date(2024, 2, 1),
    )
    assert result.evaluable
    assert result.steady_state_at == datetime(2024, 2, 8, 12, 0, tzinfo=UTC)


def test_an_evaluable_estimate_reports_the_dosing_interval_and_cycle_day():
    # regorafenib 21/28 from 2024-01-01: 2024-01-15 is day 15; once daily, tau 24 h.
    result = estimate("regorafenib", hours=24, drawn_at=datetime(2024, 1, 15, 9, 0, tzinfo=CET))
    assert result.evaluable
    assert result.tau_h == Decimal(24)
    assert result.cycle_day == 15
