"""Concentration units (docs/clinical-rules.md §1): everything is stored and computed in ng/mL.

Accepted units and their factor to ng/mL:

| unit | factor |
|---|---|
| ng/mL, µg/L (ug/L) | 1 |
| µg/mL (ug/mL), mg/L | 1000 |
| nmol/L | molar mass (g/mol) / 1000 |

1 nmol of a drug weighs `molar mass` ng, so 1 nmol/L = `molar mass` ng/L = molar mass / 1000 ng/mL.
Conversions are exact `Decimal` arithmetic; rounding happens only where a value is shown or judged.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

from advice.engine.errors import InputError

NG_PER_ML = "ng/mL"
NMOL_PER_L = "nmol/L"

# Canonical spelling of every accepted unit → factor to ng/mL (nmol/L depends on the drug).
_MASS_FACTORS: dict[str, Decimal] = {
    "ng/mL": Decimal(1),
    "µg/L": Decimal(1),
    "µg/mL": Decimal(1000),
    "mg/L": Decimal(1000),
}

# Lower-case spellings (micro sign, Greek mu or plain "u") → canonical unit.
_SPELLINGS: dict[str, str] = {
    "ng/ml": "ng/mL",
    "µg/l": "µg/L",
    "μg/l": "µg/L",
    "ug/l": "µg/L",
    "µg/ml": "µg/mL",
    "μg/ml": "µg/mL",
    "ug/ml": "µg/mL",
    "mg/l": "mg/L",
    "nmol/l": NMOL_PER_L,
}

# 1 g/mL: no dissolved drug can be more concentrated than the substance itself.
MAX_PLAUSIBLE_NG_ML = Decimal("1e9")

ACCEPTED_UNITS: tuple[str, ...] = ("ng/mL", "µg/L", "ug/L", "µg/mL", "ug/mL", "mg/L", "nmol/L")


def canonical_unit(unit: object, *, field: str = "sample.unit") -> str:
    """The canonical spelling of an accepted unit (`ug/l` → `µg/L`); InputError otherwise."""
    if not isinstance(unit, str) or unit.strip().lower() not in _SPELLINGS:
        raise InputError(field, f"unknown unit {unit!r}; use one of {', '.join(ACCEPTED_UNITS)}")
    return _SPELLINGS[unit.strip().lower()]


def factor_to_ng_ml(unit: str, molar_mass_g_mol: Decimal, *, field: str = "sample.unit") -> Decimal:
    """How many ng/mL one `unit` is for a drug of the given molar mass."""
    canonical = canonical_unit(unit, field=field)
    if canonical == NMOL_PER_L:
        return molar_mass_g_mol / 1000
    return _MASS_FACTORS[canonical]


def to_ng_ml(
    value: Decimal, unit: str, molar_mass_g_mol: Decimal, *, field: str = "sample.unit"
) -> Decimal:
    """`value` in `unit` expressed in ng/mL (exact)."""
    return value * factor_to_ng_ml(unit, molar_mass_g_mol, field=field)


def from_ng_ml(
    value_ng_ml: Decimal, unit: str, molar_mass_g_mol: Decimal, *, field: str = "unit"
) -> Decimal:
    """The inverse of `to_ng_ml`: a value in ng/mL expressed in `unit`."""
    return value_ng_ml / factor_to_ng_ml(unit, molar_mass_g_mol, field=field)


def parse_number(value: object, *, field: str) -> Decimal:
    """A JSON number (int, float or Decimal; not a boolean, not text) as an exact finite Decimal."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise InputError(field, f"must be a number, not {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(field, f"must be a finite number, not {value!r}")
    try:
        # str() keeps the digits as written (2870.5), not the binary expansion of the float.
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise InputError(field, f"must be a number, not {value!r}") from None
    if not number.is_finite():
        raise InputError(field, f"must be a finite number, not {value!r}")
    return number


def sample_concentration_ng_ml(
    concentration: object,
    unit: object,
    *,
    below_lloq: bool,
    molar_mass_g_mol: Decimal,
    field_prefix: str = "sample",
) -> Decimal | None:
    """Validate a reported result and convert it to ng/mL (docs/clinical-rules.md §1).

    A result must be a non-negative number; zero or no value is accepted only with the
    below-LLOQ flag, in which case the value (if any) is the assay's LLOQ and is kept only as
    a record: it is never extrapolated into a Ctrough.
    """
    concentration_field = f"{field_prefix}.concentration"
    unit_field = f"{field_prefix}.unit"
    if concentration is None:
        if not below_lloq:
            raise InputError(
                concentration_field, "a concentration is required unless the result is below LLOQ"
            )
        if unit is not None:
            canonical_unit(unit, field=unit_field)
        return None
    value = parse_number(concentration, field=concentration_field)
    if value < 0:
        raise InputError(concentration_field, f"must not be negative ({value})")
    if value == 0 and not below_lloq:
        raise InputError(
            concentration_field,
            "zero is not a measured concentration; report a result below the assay's "
            "lower limit of quantification with below_lloq true",
        )
    value_ng_ml = to_ng_ml(value, canonical_unit(unit, field=unit_field), molar_mass_g_mol)
    if value_ng_ml > MAX_PLAUSIBLE_NG_ML:
        raise InputError(
            concentration_field, f"{value} {unit} is above 1 g/mL: not a possible concentration"
        )
    return value_ng_ml
