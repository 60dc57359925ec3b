"""docs/clinical-rules.md §9: reading a drugs.csv row, column by column, and refusing bad ones.

An admin may edit a row and the engine then uses the edited values, so every check of a column
is a message the admin reads: it names the column (and, for a file, the line).
"""

import csv
from decimal import Decimal

import pytest

from advice.engine.catalogue import (
    CATALOGUE_CSV,
    CatalogueError,
    DrugFacts,
    parse_drug_row,
    read_catalogue,
)
from advice.engine.ctcae import find_term

D = Decimal

with CATALOGUE_CSV.open(newline="", encoding="utf-8") as _handle:
    ROWS = {(row["drug"], row["indication"]): row for row in csv.DictReader(_handle)}
FIELDNAMES = list(next(iter(ROWS.values())).keys())


def row(drug, indication="", /, **changes):
    """A shipped row as column name -> text, with some columns changed."""
    return {**ROWS[(drug, indication)], **changes}


def test_a_row_is_read_column_by_column():
    shipped = row("sunitinib", "intermittent")
    assert parse_drug_row(shipped) == DrugFacts(
        drug="sunitinib",
        indication="intermittent",
        indication_group="solid",
        tdm_level="viable",
        metric="cmin",
        target_ng_ml=D("50"),
        target_basis="threshold",
        upper_threshold_ng_ml=D("100"),
        mean_exposure=D("51.6"),
        unit="ng/mL",
        analyte="parent+metabolite (sunitinib + N-desethyl-sunitinib SU12662)",
        standard_daily_dose_mg=D("50"),
        administrations_per_day=1,
        half_life_h=D("50"),
        tmax_h=D("9"),
        min_hours_after_dose=None,
        extrapolation=True,
        dose_levels_mg=tuple(D(v) for v in ("25", "37.5", "50", "62.5", "75", "87.5")),
        label_max_daily_dose_mg=D("50"),
        max_daily_dose_mg=D("87.5"),
        max_single_dose_mg=None,
        strengths_mg=tuple(D(v) for v in ("12.5", "25", "37.5", "50")),
        nonlinear_absorption=False,
        cycle_on_days=28,
        cycle_length_days=42,
        food="either",
        molar_mass_g_mol=D("398.5"),
        notes=shipped["notes"].strip(),
        source=shipped["source"].strip(),
        verified="yes",
    )
    assert parse_drug_row(shipped).notes.startswith("Total trough (sunitinib + SU12662)")


def test_the_columns_sunitinib_leaves_empty_are_read_from_sorafenib():
    facts = parse_drug_row(row("sorafenib"))
    assert facts.indication is None
    assert facts.target_basis == "mean_exposure"
    assert facts.upper_threshold_ng_ml is None
    assert facts.min_hours_after_dose == D("10")
    assert facts.max_single_dose_mg == D("800")
    assert facts.nonlinear_absorption is True
    assert (facts.cycle_on_days, facts.cycle_length_days) == (None, None)
    assert facts.food == "fasted"


def test_regorafenib_cannot_be_extrapolated():
    assert parse_drug_row(row("regorafenib")).extrapolation is False


@pytest.mark.parametrize(
    ("changes", "read"),
    [
        ({"target_basis": ""}, ("target_basis", "threshold")),
        ({"mean_exposure": ""}, ("mean_exposure", None)),
        ({"upper_threshold_ng_ml": " "}, ("upper_threshold_ng_ml", None)),
        ({"min_hours_after_dose": "0"}, ("min_hours_after_dose", D(0))),
        ({"tmax_h": "0.5"}, ("tmax_h", D("0.5"))),
        ({"half_life_h": "0.5"}, ("half_life_h", D("0.5"))),
        ({"administrations_per_day": "4"}, ("administrations_per_day", 4)),
        ({"cycle_on_days": "1", "cycle_length_days": "28"}, ("cycle_on_days", 1)),
        ({"cycle_on_days": "21.0", "cycle_length_days": "28"}, ("cycle_on_days", 21)),
    ],
)
def test_optional_and_boundary_values_are_accepted(changes, read):
    column, value = read
    assert getattr(parse_drug_row(row("sorafenib", **changes)), column) == value


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"drug": " "}, "drug: a name is required"),
        ({"target_ng_ml": ""}, "target_ng_ml: a value is required"),
        ({"half_life_h": ""}, "half_life_h: a value is required"),
        ({"administrations_per_day": ""}, "administrations_per_day: a value is required"),
        ({"tmax_h": "three"}, "tmax_h: 'three' is not a number"),
        ({"tmax_h": "-1"}, "tmax_h: '-1' must be a non-negative number"),
        ({"tmax_h": "Infinity"}, "tmax_h: 'Infinity' must be a non-negative number"),
        (
            {"cycle_on_days": "21.5", "cycle_length_days": "28"},
            "cycle_on_days: 21.5 must be a whole number",
        ),
        ({"strengths_mg": ""}, "strengths_mg: at least one value is required"),
        ({"strengths_mg": "200;x"}, "strengths_mg: '200;x' is not a ;-separated list of numbers"),
        ({"strengths_mg": "0;200"}, "strengths_mg: every value must be positive"),
        ({"metric": "cmax"}, "metric: 'cmax' is not one of cmin, auc"),
        ({"extrapolation": "true"}, "extrapolation: 'true' is not one of yes, no"),
        (
            {"dose_levels_mg": "400;200;600;800;1000;1200;1400;1600"},
            "dose_levels_mg: levels must be unique and ascending",
        ),
        ({"administrations_per_day": "0"}, "administrations_per_day: must be between 1 and 4"),
        ({"administrations_per_day": "5"}, "administrations_per_day: must be between 1 and 4"),
        ({"half_life_h": "0"}, "half_life_h: must be positive"),
        ({"max_daily_dose_mg": "1500"}, "max_daily_dose_mg: must be one of dose_levels_mg"),
        ({"cycle_on_days": "21"}, "cycle_on_days: give both cycle columns or neither"),
        (
            {"cycle_on_days": "0", "cycle_length_days": "28"},
            "cycle_on_days: must be positive and shorter than the cycle",
        ),
        (
            {"cycle_on_days": "28", "cycle_length_days": "28"},
            "cycle_on_days: must be positive and shorter than the cycle",
        ),
    ],
)
def test_a_bad_value_is_refused_naming_the_column(changes, message):
    with pytest.raises(CatalogueError) as caught:
        parse_drug_row(row("sorafenib", **changes))
    assert str(caught.value) == message


def write_csv(path, rows, *, line_break="\r\n"):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDNAMES, lineterminator=line_break)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_a_bad_row_in_a_file_is_named_by_its_line(tmp_path):
    path = write_csv(
        tmp_path / "drugs.csv", [row("sorafenib"), row("regorafenib", half_life_h="0")]
    )
    with pytest.raises(CatalogueError) as caught:
        list(read_catalogue(path))
    # the header is line 1, sorafenib line 2, regorafenib line 3.
    assert str(caught.value) == "drugs.csv line 3: half_life_h: must be positive"


def test_a_note_with_a_line_break_and_non_ascii_text_is_read_as_written(tmp_path):
    note = "Take fasted.\r\nAUC 300 ng·h/mL – see µg/L"
    path = write_csv(tmp_path / "edited.csv", [row("sorafenib", notes=note)])
    (facts,) = read_catalogue(path)
    assert facts.notes == note


def test_a_ctcae_term_gives_the_description_of_the_grades_it_defines_only():
    fatigue = find_term("fatigue")
    assert fatigue.grade_text(1) == "Fatigue relieved by rest"
    assert fatigue.grade_text(4) is None
