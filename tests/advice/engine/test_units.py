"""SPEC §3: concentration units, conversions to ng/mL and validation of reported results."""

from decimal import Decimal

import pytest

from advice.engine.errors import InputError
from advice.engine.units import (
    canonical_unit,
    from_ng_ml,
    parse_number,
    sample_concentration_ng_ml,
    to_ng_ml,
)

SORAFENIB_MOLAR_MASS = Decimal("464.8")


@pytest.mark.parametrize(
    ("value", "unit", "expected_ng_ml"),
    [
        ("2870", "ng/mL", "2870"),
        ("2870", "ng/ml", "2870"),
        ("2870", "µg/L", "2870"),
        ("2870", "μg/L", "2870"),  # Greek mu instead of the micro sign
        ("2870", "ug/L", "2870"),
        ("2.87", "µg/mL", "2870"),
        ("2.87", "ug/mL", "2870"),
        ("2.87", "mg/L", "2870"),
        ("1000", "nmol/L", "464.8"),  # 1000 nmol/L x 464.8 g/mol / 1000
        ("6174.7", "nmol/L", "2870.00056"),
        ("0", "mg/L", "0"),
    ],
)
def test_to_ng_ml(value, unit, expected_ng_ml):
    assert to_ng_ml(Decimal(value), unit, SORAFENIB_MOLAR_MASS) == Decimal(expected_ng_ml)


@pytest.mark.parametrize(
    ("value_ng_ml", "unit", "expected"),
    [
        ("2870", "ng/mL", "2870"),
        ("2870", "ug/L", "2870"),
        ("2870", "mg/L", "2.87"),
        ("2870", "ug/mL", "2.87"),
        ("464.8", "nmol/L", "1000"),
    ],
)
def test_from_ng_ml(value_ng_ml, unit, expected):
    assert from_ng_ml(Decimal(value_ng_ml), unit, SORAFENIB_MOLAR_MASS) == Decimal(expected)


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("ng/mL", "ng/mL"),
        (" NG/ML ", "ng/mL"),
        ("ug/l", "µg/L"),
        ("ug/mL", "µg/mL"),
        ("mg/l", "mg/L"),
        ("nmol/l", "nmol/L"),
    ],
)
def test_canonical_unit(spelling, canonical):
    assert canonical_unit(spelling) == canonical


@pytest.mark.parametrize("unit", ["mmol", "mmol/L", "ng/L", "mg/dL", "", "ng", None, 5])
def test_unknown_unit_names_the_field(unit):
    with pytest.raises(InputError) as caught:
        to_ng_ml(Decimal(1), unit, SORAFENIB_MOLAR_MASS)
    assert caught.value.field == "sample.unit"


def test_unknown_unit_uses_the_given_field():
    with pytest.raises(InputError) as caught:
        canonical_unit("mmol", field="samples[3].unit")
    assert caught.value.field == "samples[3].unit"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(2870, "2870"), (2870.5, "2870.5"), (0.1, "0.1"), (Decimal("12.25"), "12.25")],
)
def test_parse_number_keeps_the_written_digits(value, expected):
    assert parse_number(value, field="x") == Decimal(expected)


@pytest.mark.parametrize(
    "value", [True, False, "2870", None, float("nan"), float("inf"), Decimal("NaN"), [1]]
)
def test_parse_number_rejects_non_numbers(value):
    with pytest.raises(InputError) as caught:
        parse_number(value, field="sample.concentration")
    assert caught.value.field == "sample.concentration"


@pytest.mark.parametrize(
    ("concentration", "unit", "below_lloq", "expected"),
    [
        (2870, "ng/mL", False, Decimal("2870")),
        (2.87, "mg/L", False, Decimal("2870.00")),
        (None, None, True, None),
        (None, "ng/mL", True, None),
        (0, "ng/mL", True, Decimal("0")),
        (50, "ng/mL", True, Decimal("50")),  # the assay's LLOQ, kept as a record only
    ],
)
def test_sample_concentration_accepts(concentration, unit, below_lloq, expected):
    result = sample_concentration_ng_ml(
        concentration, unit, below_lloq=below_lloq, molar_mass_g_mol=SORAFENIB_MOLAR_MASS
    )
    assert result == expected


@pytest.mark.parametrize(
    ("concentration", "unit", "below_lloq", "field"),
    [
        (-1, "ng/mL", False, "sample.concentration"),
        (-1, "ng/mL", True, "sample.concentration"),
        (0, "ng/mL", False, "sample.concentration"),
        (None, "ng/mL", False, "sample.concentration"),
        ("abc", "ng/mL", False, "sample.concentration"),
        ("<50", "ng/mL", True, "sample.concentration"),
        (True, "ng/mL", False, "sample.concentration"),
        (1e306, "mg/L", False, "sample.concentration"),
        (1000001, "mg/L", False, "sample.concentration"),
        (2870, "mmol", False, "sample.unit"),
        (None, "mmol/L", True, "sample.unit"),
    ],
)
def test_sample_concentration_rejects(concentration, unit, below_lloq, field):
    with pytest.raises(InputError) as caught:
        sample_concentration_ng_ml(
            concentration, unit, below_lloq=below_lloq, molar_mass_g_mol=SORAFENIB_MOLAR_MASS
        )
    assert caught.value.field == field
