"""docs/clinical-rules.md §1: concentration units, conversions to ng/mL and validation of
reported results."""

from decimal import Decimal

import pytest

from advice.engine.errors import InputError
from advice.engine.units import (
    canonical_unit,
    factor_to_ng_ml,
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


# --- the messages a caller sees --------------------------------------------------------------


def test_an_unknown_unit_is_refused_as_the_sample_unit_listing_the_accepted_units():
    with pytest.raises(InputError) as caught:
        canonical_unit("mmol")
    assert str(caught.value) == (
        "sample.unit: unknown unit 'mmol'; use one of ng/mL, µg/L, ug/L, µg/mL, ug/mL, mg/L, nmol/L"
    )


def test_a_conversion_names_the_field_it_is_given():
    with pytest.raises(InputError) as caught:
        to_ng_ml(Decimal(1), "mmol", SORAFENIB_MOLAR_MASS, field="samples[2].unit")
    assert caught.value.field == "samples[2].unit"
    with pytest.raises(InputError) as caught:
        from_ng_ml(Decimal(1), "mmol", SORAFENIB_MOLAR_MASS, field="display.unit")
    assert caught.value.field == "display.unit"


def test_a_conversion_back_from_ng_ml_names_the_unit_field_by_default():
    with pytest.raises(InputError) as caught:
        from_ng_ml(Decimal(1), "mmol", SORAFENIB_MOLAR_MASS)
    assert caught.value.field == "unit"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (float("nan"), "x: must be a finite number, not nan"),
        (float("inf"), "x: must be a finite number, not inf"),
        (Decimal("NaN"), "x: must be a finite number, not Decimal('NaN')"),
        (Decimal("-Infinity"), "x: must be a finite number, not Decimal('-Infinity')"),
        ("12", "x: must be a number, not '12'"),
    ],
)
def test_a_value_that_is_no_finite_number_is_refused_with_its_reason(value, message):
    with pytest.raises(InputError) as caught:
        parse_number(value, field="x")
    assert str(caught.value) == message


class _NumberWithoutDigits(float):
    """A float type (as some libraries define) whose text is not a number."""

    def __str__(self):
        return "n/a"


def test_a_number_whose_text_is_not_a_number_is_refused_naming_the_field():
    with pytest.raises(InputError) as caught:
        parse_number(_NumberWithoutDigits(1.5), field="sample.concentration")
    assert str(caught.value) == "sample.concentration: must be a number, not 1.5"


def test_a_whole_number_too_long_to_print_is_refused_as_implausible_not_crashing():
    # Python will not turn an int of more than 4300 digits into text; it is still a number,
    # and far above 1 g/mL.
    with pytest.raises(InputError) as caught:
        sample_concentration_ng_ml(
            10**5000, "ng/mL", below_lloq=False, molar_mass_g_mol=SORAFENIB_MOLAR_MASS
        )
    assert caught.value.field == "sample.concentration"
    assert "is above 1 g/mL: not a possible concentration" in caught.value.message


@pytest.mark.parametrize(
    ("concentration", "unit", "below_lloq", "message"),
    [
        (
            None,
            "ng/mL",
            False,
            "sample.concentration: a concentration is required unless the result is below LLOQ",
        ),
        (-1, "ng/mL", False, "sample.concentration: must not be negative (-1)"),
        (
            0,
            "ng/mL",
            False,
            "sample.concentration: zero is not a measured concentration; report a result below "
            "the assay's lower limit of quantification with below_lloq true",
        ),
        (
            1000001,
            "mg/L",
            False,
            "sample.concentration: 1000001 mg/L is above 1 g/mL: not a possible concentration",
        ),
    ],
)
def test_a_refused_result_says_why(concentration, unit, below_lloq, message):
    with pytest.raises(InputError) as caught:
        sample_concentration_ng_ml(
            concentration, unit, below_lloq=below_lloq, molar_mass_g_mol=SORAFENIB_MOLAR_MASS
        )
    assert str(caught.value) == message


def test_exactly_1_g_per_ml_is_still_accepted():
    # §1: only a value *above* 1 g/mL (10^9 ng/mL) is refused.
    result = sample_concentration_ng_ml(
        1000000, "mg/L", below_lloq=False, molar_mass_g_mol=SORAFENIB_MOLAR_MASS
    )
    assert result == Decimal("1e9")


@pytest.mark.parametrize(
    ("concentration", "unit", "below_lloq", "field"),
    [
        (2870, "mmol", False, "samples[1].unit"),
        (None, "mmol/L", True, "samples[1].unit"),
        (-1, "ng/mL", False, "samples[1].concentration"),
    ],
)
def test_a_refused_result_names_the_field_under_the_given_prefix(
    concentration, unit, below_lloq, field
):
    with pytest.raises(InputError) as caught:
        sample_concentration_ng_ml(
            concentration,
            unit,
            below_lloq=below_lloq,
            molar_mass_g_mol=SORAFENIB_MOLAR_MASS,
            field_prefix="samples[1]",
        )
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("unit", "factor"),
    [("ng/mL", "1"), ("ug/L", "1"), ("mg/L", "1000"), ("µg/mL", "1000"), ("nmol/L", "0.4648")],
)
def test_the_factor_to_ng_ml_of_each_unit(unit, factor):
    assert factor_to_ng_ml(unit, SORAFENIB_MOLAR_MASS) == Decimal(factor)


def test_the_factor_of_an_unknown_unit_is_refused_as_the_sample_unit():
    with pytest.raises(InputError) as caught:
        factor_to_ng_ml("mmol", SORAFENIB_MOLAR_MASS)
    assert caught.value.field == "sample.unit"
