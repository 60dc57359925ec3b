"""docs/clinical-rules.md §4: the edges of the split of a daily dose.

How the most equal split is chosen when several are possible, doses the strengths cannot make,
maximum single doses with decimals and the messages for impossible regimens. Edited catalogue
rows (an admin may change the strengths or the maximum single dose) are built with
`dataclasses.replace` on the shipped row.
"""

from dataclasses import replace
from decimal import Decimal

import pytest

from advice.engine import dosing
from advice.engine.catalogue import read_catalogue
from advice.engine.dosing import split_daily_dose

DRUGS = {facts.label: facts for facts in read_catalogue()}
D = Decimal


@pytest.fixture(autouse=True)
def _fresh_representable_amounts():
    """Each test starts as a fresh process would: without the remembered sums of strengths."""
    dosing._representable_below.cache_clear()
    yield
    dosing._representable_below.cache_clear()


def split_of(label, daily, administrations, **edits):
    drug = replace(DRUGS[label], **edits) if edits else DRUGS[label]
    split = split_daily_dose(D(daily), administrations, drug)
    return (
        split.administrations_per_day,
        tuple(str(part) for part in split.parts_mg),
        split.warnings,
    )


# --- choosing among possible splits --------------------------------------------------------


def test_an_amount_the_capsules_cannot_make_is_skipped_for_the_next_larger_first_part():
    # lenvatinib 4 and 10 mg capsules: 6 + 6 cannot be made, so twice daily is 8 + 4.
    assert split_of("lenvatinib", "12", 2) == (2, ("8", "4"), ())


def test_every_part_size_is_tried_for_the_later_administrations():
    # axitinib 1/3/5/7 mg: 3 + 2 + 2 is more equal than 3 + 3 + 1.
    assert split_of("axitinib", "7", 3) == (3, ("3", "2", "2"), ())
    # trametinib 0.5 and 2 mg tablets: 1.5 + 1 + 1, not 1.5 + 1.5 + 0.5.
    assert split_of("trametinib", "3.5", 3) == (3, ("1.5", "1", "1"), ())


def test_with_equal_spread_the_split_with_the_smaller_sum_of_squares_wins():
    # crizotinib 200/250 mg: 400 + 400 + 400 + 200 and 450 + 450 + 250 + 250 both differ by
    # 200 mg between the largest and the smallest part; the first is closer to equal.
    assert split_of("crizotinib", "1400", 4) == (4, ("400", "400", "400", "200"), ())


@pytest.mark.parametrize(
    ("daily", "administrations", "parts"),
    [
        # 650 + 500 + 500 and 600 + 600 + 450 tie on spread (150) and on the sum of squares:
        # the larger leading part wins.
        ("1650", 3, ("650", "500", "500")),
        ("2150", 4, ("650", "500", "500", "500")),
        # 450 + 250 x 3 (spread 200) against 400 + 400 + 200 + 200 (also 200, more squares).
        ("1200", 4, ("450", "250", "250", "250")),
    ],
)
def test_a_split_with_a_larger_first_part_can_be_the_most_equal(daily, administrations, parts):
    assert split_of("crizotinib", daily, administrations) == (administrations, parts, ())


# --- doses the strengths cannot make --------------------------------------------------------


def test_a_dose_with_more_decimals_than_the_strengths_is_split_equally_not_rounded():
    # 400.5 mg is no sum of 200 mg tablets: 200.3 + 200.2, adding up to the dose as entered.
    assert split_of("sorafenib", "400.5", 2) == (2, ("200.3", "200.2"), ("strengths_mismatch",))


def test_a_dose_the_strengths_cannot_make_is_split_equally_up_to_the_largest_single_dose():
    # an edited sorafenib row with at most 450 mg a time: 900 mg is no sum of 200 mg tablets,
    # and 450 mg twice daily is exactly the maximum, so the frequency stays.
    assert split_of("sorafenib", "900", 2, max_single_dose_mg=D("450")) == (
        2,
        ("450", "450"),
        ("strengths_mismatch",),
    )


def test_a_dose_the_strengths_cannot_make_takes_the_fewest_extra_administrations():
    # imatinib at most 600 mg a time: 1150 mg once daily is too much; 575 + 575 is within it.
    assert split_of("imatinib (gist)", "1150", 1) == (
        2,
        ("575", "575"),
        ("administrations_changed", "strengths_mismatch"),
    )


def test_a_dose_far_too_high_that_the_strengths_cannot_make_is_split_over_four():
    assert split_of("sorafenib", "4001", 3) == (
        4,
        ("1001", "1000", "1000", "1000"),
        ("administrations_changed", "strengths_mismatch", "above_max_single_dose"),
    )


# --- maximum single dose with decimal strengths ---------------------------------------------


@pytest.mark.parametrize(
    ("daily", "expected"),
    [
        # 5.5 mg once daily is above 5 mg: twice daily, 3 + 2.5.
        ("5.5", (2, ("3", "2.5"), ("administrations_changed",))),
        # 11 mg: 5.5 + 5.5 is above 5 mg too: three times daily.
        ("11", (3, ("4", "3.5", "3.5"), ("administrations_changed",))),
        # exactly 5 mg once daily is within the maximum.
        ("5", (1, ("5",), ())),
    ],
)
def test_a_maximum_single_dose_is_kept_exactly_with_half_milligram_tablets(daily, expected):
    # an edited trametinib row (0.5 and 2 mg tablets) with at most 5 mg a time.
    assert split_of("trametinib", daily, 1, max_single_dose_mg=D("5")) == expected


# --- impossible regimens ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("daily", "administrations", "message"),
    [
        ("0", 2, "daily_dose_mg must be positive"),
        ("-200", 2, "daily_dose_mg must be positive"),
        ("400", 0, "administrations_per_day must be between 1 and 4"),
        ("400", 5, "administrations_per_day must be between 1 and 4"),
    ],
)
def test_an_impossible_regimen_is_refused_naming_the_argument(daily, administrations, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        split_daily_dose(D(daily), administrations, DRUGS["sorafenib"])
