"""docs/clinical-rules.md §1.1: the plausible range of a measured concentration per drug, the
longest plausible time since the last dose, and warning `implausible_value` on the estimate."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from advice.engine.catalogue import DrugFacts, read_catalogue
from advice.engine.pk import (
    IMPLAUSIBLE_VALUE,
    MISSED_DOSE,
    NOT_STEADY_STATE,
    SampleInput,
    estimate_ctrough,
)
from advice.engine.plausibility import (
    MAX_DOSE_GAP,
    PlausibleRange,
    dose_headroom,
    implausible_concentration,
    implausible_dose_gap,
    number_text,
    peak_to_trough,
    plausible_range,
    reference_concentrations,
)

CATALOGUE = tuple(read_catalogue())
DRUGS = {facts.label: facts for facts in CATALOGUE}
CLINICAL_RULES = Path(__file__).resolve().parents[3] / "docs" / "clinical-rules.md"
TABLE_HEADER = "| drug (indication) | reference ng/mL |"
CET = timezone(timedelta(hours=1))
DRAWN = datetime(2024, 3, 1, 9, 0, tzinfo=CET)


def sorafenib(**changes: object) -> DrugFacts:
    return dataclasses.replace(DRUGS["sorafenib"], **changes)


# The rule by hand ---------------------------------------------------------------------------


def test_sorafenib_by_hand():
    # References 3750 (target and mean); 1600/800 = 2 × the standard dose; twice daily, Tmax 3 h,
    # t½ 36 h: 2^(9/36) = 1.1892. High 20 × 3750 × 2 × 1.1892 = 178381 → 180000; low 1 % of
    # 3750 = 37.5 → 37 (both rounded outwards to two significant digits).
    facts = DRUGS["sorafenib"]
    assert reference_concentrations(facts) == (Decimal(3750), Decimal(3750))
    assert dose_headroom(facts) == 2
    assert peak_to_trough(facts).quantize(Decimal("0.0001")) == Decimal("1.1892")
    assert plausible_range(facts) == PlausibleRange(Decimal(37), Decimal(180000))


def test_sunitinib_reference_includes_the_upper_threshold():
    # 37.5 target, 51.6 mean, 100 upper threshold: low from 37.5, high from 100.
    facts = DRUGS["sunitinib (continuous)"]
    bounds = plausible_range(facts)
    assert bounds is not None
    assert bounds.low_ng_ml == Decimal("0.37")
    # 20 × 100 × 87.5/37.5 × 2^(15/50) = 5744.8 → 5800
    assert bounds.high_ng_ml == Decimal(5800)


def test_an_auc_target_is_read_as_the_mean_concentration_over_the_day():
    # Ibrutinib: no target, mean AUC0-24 680 ng·h/mL → 28.33 ng/mL over the day.
    facts = DRUGS["ibrutinib"]
    assert reference_concentrations(facts) == (Decimal(680) / 24,)
    bounds = plausible_range(facts)
    assert bounds is not None
    assert bounds.low_ng_ml == Decimal("0.28")


def test_a_short_half_life_allows_a_high_peak():
    # Dasatinib (t½ 4 h, Tmax 1 h, once daily): a peak is 2^(23/4) ≈ 54 × the trough of
    # 2.61 ng/mL, so a real peak of 100 ng/mL is plausible although 38 × the mean Cmin.
    facts = DRUGS["dasatinib"]
    assert peak_to_trough(facts) > 53
    assert not implausible_concentration(Decimal(100), facts, below_lloq=False)


def test_a_tmax_after_the_dosing_interval_gives_no_peak_factor():
    assert peak_to_trough(sorafenib(tmax_h=Decimal(13))) == 1


def test_a_standard_dose_above_the_tdm_maximum_does_not_narrow_the_range():
    assert dose_headroom(sorafenib(standard_daily_dose_mg=Decimal(1800))) == 1
    assert dose_headroom(sorafenib(standard_daily_dose_mg=Decimal(0))) == 1


# Optional catalogue fields ------------------------------------------------------------------


def test_a_drug_with_only_a_target():
    facts = sorafenib(mean_exposure=None)
    assert reference_concentrations(facts) == (Decimal(3750),)
    assert plausible_range(facts) == PlausibleRange(Decimal(37), Decimal(180000))


def test_a_drug_with_only_a_mean_exposure():
    facts = sorafenib(target_ng_ml=None, metric="auc", mean_exposure=Decimal(2400))
    assert reference_concentrations(facts) == (Decimal(100),)


def test_no_reference_concentration_means_no_range_and_nothing_is_implausible():
    facts = sorafenib(target_ng_ml=None, mean_exposure=None, metric="auc")
    assert plausible_range(facts) is None
    assert not implausible_concentration(Decimal("1e8"), facts, below_lloq=False)


def test_a_zero_in_the_catalogue_is_no_reference():
    facts = sorafenib(mean_exposure=Decimal(0))
    assert reference_concentrations(facts) == (Decimal(3750),)


# The bounds ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "implausible"),
    [
        ("36.99", True),
        ("37", False),
        ("2870", False),
        ("180000", False),
        ("180000.01", True),
        ("99999999", True),
    ],
)
def test_sorafenib_bounds_are_inclusive(value, implausible):
    assert (
        implausible_concentration(Decimal(value), DRUGS["sorafenib"], below_lloq=False)
        is implausible
    )


def test_below_lloq_and_no_value_are_never_implausible():
    facts = DRUGS["sorafenib"]
    assert not implausible_concentration(Decimal("0.5"), facts, below_lloq=True)
    assert not implausible_concentration(None, facts, below_lloq=False)


@pytest.mark.parametrize(("value", "text"), [("1.8E+5", "180000"), ("0.10", "0.1"), ("5.0", "5")])
def test_bounds_are_written_without_exponent_or_trailing_zeros(value, text):
    assert number_text(Decimal(value)) == text


def test_the_range_reads_as_the_message_gives_it():
    assert plausible_range(DRUGS["sorafenib"]).text == "37 to 180000 ng/mL"


@pytest.mark.parametrize("facts", CATALOGUE, ids=lambda facts: facts.label)
def test_every_catalogue_drug_has_a_range_around_its_reference(facts):
    bounds = plausible_range(facts)
    assert bounds is not None
    references = reference_concentrations(facts)
    assert bounds.low_ng_ml <= min(references) / 100
    assert bounds.high_ng_ml >= 20 * max(references)
    # A result in µg/mL typed as ng/mL (1000 × too low) falls outside.
    assert not bounds.contains(min(references) / 1000)


# The time since the last dose ---------------------------------------------------------------


def test_a_last_dose_seven_days_before_is_plausible_a_second_more_is_not():
    assert timedelta(days=7) == MAX_DOSE_GAP
    assert not implausible_dose_gap(DRAWN, DRAWN - timedelta(days=7))
    assert implausible_dose_gap(DRAWN, DRAWN - timedelta(days=7, seconds=1))


def test_the_gap_is_real_time_across_utc_offsets():
    # 09:00 +01:00 is 08:00 UTC; a last dose at 07:30 UTC seven days before is 7 days 30 min.
    last_dose = datetime(2024, 2, 23, 7, 30, tzinfo=UTC)
    assert implausible_dose_gap(DRAWN, last_dose)
    assert not implausible_dose_gap(DRAWN, last_dose + timedelta(minutes=30))


@pytest.mark.parametrize("facts", CATALOGUE, ids=lambda facts: facts.label)
def test_a_last_dose_more_than_seven_days_before_is_a_missed_dose_for_every_drug(facts):
    # 1.5 dosing intervals are at most 36 h: a confirmed gap of a week is never evaluable.
    sample = SampleInput(
        drawn_at=DRAWN,
        last_dose_at=DRAWN - MAX_DOSE_GAP - timedelta(seconds=1),
        concentration_ng_ml=reference_concentrations(facts)[0],
    )
    estimate = estimate_ctrough(
        sample,
        drug=facts,
        administrations_per_day=1,
        treatment_start=date(2024, 1, 1),
        last_dose_change=None,
    )
    assert not estimate.evaluable
    assert MISSED_DOSE in estimate.reasons


# The warning on the estimate ----------------------------------------------------------------


def estimate(concentration: str | None, *, hours: float = 12, below_lloq: bool = False, **kw):
    sample = SampleInput(
        drawn_at=DRAWN,
        last_dose_at=DRAWN - timedelta(hours=hours),
        concentration_ng_ml=None if concentration is None else Decimal(concentration),
        below_lloq=below_lloq,
    )
    return estimate_ctrough(
        sample,
        drug=DRUGS["sorafenib"],
        administrations_per_day=2,
        treatment_start=kw.get("start", date(2023, 10, 2)),
        last_dose_change=None,
    )


def test_a_plausible_value_has_no_warning():
    assert estimate("2870").warnings == ()


def test_an_implausible_evaluable_value_is_estimated_with_the_warning():
    result = estimate("200000")
    assert result.evaluable
    assert result.ctrough_ng_ml == Decimal("200000.00")
    assert result.warnings == (IMPLAUSIBLE_VALUE,)


def test_the_warning_comes_before_not_steady_state():
    result = estimate("20", start=date(2024, 2, 28))
    assert result.warnings == (IMPLAUSIBLE_VALUE, NOT_STEADY_STATE)


def test_an_implausible_value_of_a_sample_that_is_not_evaluable_keeps_the_warning():
    result = estimate("20", hours=30)
    assert not result.evaluable
    assert result.warnings == (IMPLAUSIBLE_VALUE,)


def test_a_result_below_lloq_has_no_warning():
    assert estimate("5", below_lloq=True).warnings == ()
    assert estimate(None, below_lloq=True).warnings == ()


# The table in docs/clinical-rules.md --------------------------------------------------------


def _decimals(value: Decimal) -> str:
    return f"{value:.2f}"


def table_row(facts: DrugFacts) -> str:
    """The row of the docs table for one catalogue row, as the rule computes it."""
    references = reference_concentrations(facts)
    if facts.metric == "auc":
        references = tuple(value.quantize(Decimal("0.1")) for value in references)
    low, high = number_text(min(references)), number_text(max(references))
    reference = low if low == high else f"{low}–{high}"
    if facts.metric == "auc":
        reference += " (AUC / 24 h)"
    bounds = plausible_range(facts)
    assert bounds is not None
    return (
        f"| {facts.label} | {reference} | {_decimals(dose_headroom(facts))} | "
        f"{_decimals(peak_to_trough(facts))} | {number_text(bounds.low_ng_ml)} | "
        f"{number_text(bounds.high_ng_ml)} |"
    )


def documented_rows() -> list[str]:
    lines = CLINICAL_RULES.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(TABLE_HEADER))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def test_the_documented_ranges_are_the_computed_ones():
    """Regenerate the table with `print("\\n".join(map(table_row, CATALOGUE)))` after a
    catalogue change."""
    assert documented_rows() == [table_row(facts) for facts in CATALOGUE]
