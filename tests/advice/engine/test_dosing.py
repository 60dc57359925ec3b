"""docs/clinical-rules.md §4: dose levels and the split of a daily dose over administrations."""

from decimal import Decimal

import pytest

from advice.engine.catalogue import read_catalogue
from advice.engine.dosing import level_down, level_up, split_daily_dose

DRUGS = {facts.label: facts for facts in read_catalogue()}
D = Decimal


@pytest.mark.parametrize(
    ("label", "current", "up", "down"),
    [
        # sorafenib levels 200..1600 in 200 mg steps, max 1600 (800 mg BID; Guchelaar et al.,
        # Biomed Pharmacother 2022).
        ("sorafenib", "600", "800", "400"),
        ("sorafenib", "200", "400", None),
        ("sorafenib", "1600", None, "1400"),
        # between two levels: the nearest level in the direction asked.
        ("sorafenib", "500", "600", "400"),
        ("sorafenib", "100", "200", None),
        ("sorafenib", "1700", None, "1600"),
        ("imatinib (gist)", "400", "600", "300"),
        ("imatinib (gist)", "300", "400", None),
        ("sunitinib (intermittent)", "50", "62.5", "37.5"),
        ("sunitinib (intermittent)", "87.5", None, "75"),
        ("trametinib", "2", None, "1.5"),
        ("trametinib", "1.5", "2", "1"),
        ("pazopanib", "800", "1000", "600"),
        ("gefitinib", "250", "500", None),
    ],
)
def test_levels(label, current, up, down):
    drug = DRUGS[label]
    assert level_up(drug, D(current)) == (None if up is None else D(up))
    assert level_down(drug, D(current)) == (None if down is None else D(down))


@pytest.mark.parametrize(
    ("label", "daily", "administrations", "parts", "used", "warnings"),
    [
        # The examples of docs/clinical-rules.md §4.
        ("sorafenib", "1000", 2, ("600", "400"), 2, ()),
        ("sorafenib", "600", 2, ("400", "200"), 2, ()),
        ("sorafenib", "800", 2, ("400", "400"), 2, ()),
        ("sorafenib", "1600", 2, ("800", "800"), 2, ()),
        ("imatinib (gist)", "800", 1, ("400", "400"), 2, ("administrations_changed",)),
        ("imatinib (cml)", "600", 1, ("600",), 1, ()),
        # one 200 mg tablet cannot be given twice a day: once daily.
        ("sorafenib", "200", 2, ("200",), 1, ("administrations_changed",)),
        # crizotinib 250 mg/day from 200/250 mg capsules: 250 mg once daily (the label step).
        ("crizotinib", "250", 2, ("250",), 1, ("administrations_changed",)),
        ("crizotinib", "400", 2, ("200", "200"), 2, ()),
        # pazopanib max single dose 800 mg.
        ("pazopanib", "800", 1, ("800",), 1, ()),
        ("pazopanib", "1000", 1, ("600", "400"), 2, ("administrations_changed",)),
        ("pazopanib", "1400", 1, ("800", "600"), 2, ("administrations_changed",)),
        # 2 x 900 is not a sum of 200/400 mg tablets and 1000 + 800 exceeds 800: three times.
        ("pazopanib", "1800", 1, ("600", "600", "600"), 3, ("administrations_changed",)),
        ("sunitinib (continuous)", "87.5", 1, ("87.5",), 1, ()),
        ("sunitinib (continuous)", "37.5", 2, ("25", "12.5"), 2, ()),
        ("trametinib", "1.5", 1, ("1.5",), 1, ()),
        ("axitinib", "14", 2, ("7", "7"), 2, ()),
        ("dabrafenib", "150", 2, ("75", "75"), 2, ()),
        ("nilotinib", "600", 2, ("300", "300"), 2, ()),
        ("vemurafenib", "1440", 2, ("720", "720"), 2, ()),
        ("lenvatinib", "14", 1, ("14",), 1, ()),
        # 4/10 mg capsules: 33 mg is impossible, the most equal split is 34 + 34 + 32.
        ("lenvatinib", "100", 3, ("34", "34", "32"), 3, ()),
        # not a sum of the strengths: an equal split for the pharmacist to resolve.
        ("sorafenib", "450", 2, ("225", "225"), 2, ("strengths_mismatch",)),
        ("sunitinib (continuous)", "30.5", 2, ("15.3", "15.2"), 2, ("strengths_mismatch",)),
        ("sorafenib", "1001", 3, ("334", "334", "333"), 3, ("strengths_mismatch",)),
        # 1250 is no sum of 100/400 mg tablets and 625 mg twice exceeds the 600 mg maximum.
        (
            "imatinib (gist)",
            "1250",
            1,
            ("417", "417", "416"),
            3,
            ("administrations_changed", "strengths_mismatch"),
        ),
        # far beyond any catalogue maximum: 4 administrations and still above 800 mg each.
        (
            "sorafenib",
            "4000",
            2,
            ("1000", "1000", "1000", "1000"),
            4,
            ("administrations_changed", "above_max_single_dose"),
        ),
    ],
)
def test_split(label, daily, administrations, parts, used, warnings):
    split = split_daily_dose(D(daily), administrations, DRUGS[label])
    assert split.parts_mg == tuple(D(part) for part in parts)
    assert split.administrations_per_day == used
    assert split.warnings == warnings
    assert sum(split.parts_mg) == D(daily)


def test_parts_print_plainly():
    split = split_daily_dose(D("800"), 2, DRUGS["sorafenib"])
    assert [str(part) for part in split.parts_mg] == ["400", "400"]


@pytest.mark.parametrize("label", sorted(DRUGS))
def test_every_catalogue_level_is_made_from_the_strengths(label):
    drug = DRUGS[label]
    for level in drug.dose_levels_mg:
        split = split_daily_dose(level, drug.administrations_per_day, drug)
        assert "strengths_mismatch" not in split.warnings
        assert "above_max_single_dose" not in split.warnings
        assert sum(split.parts_mg) == level
        assert list(split.parts_mg) == sorted(split.parts_mg, reverse=True)


@pytest.mark.parametrize(
    ("daily", "administrations"), [("0", 1), ("-200", 2), ("400", 0), ("400", 5)]
)
def test_split_refuses_impossible_regimens(daily, administrations):
    with pytest.raises(ValueError, match="must be"):
        split_daily_dose(D(daily), administrations, DRUGS["sorafenib"])
