"""The drug catalogue as plain values: one `DrugFacts` per row of drugs.csv.

The engine reads drug facts only through this type, so it never needs the ORM; the Drug model
converts itself with `Drug.facts()` and the loader parses the shipped CSV with `parse_drug_row`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

CATALOGUE_CSV = Path(__file__).resolve().parent / "data" / "drugs.csv"

METRICS = ("cmin", "auc")
TDM_LEVELS = ("exploratory", "promising", "viable")
TARGET_BASES = ("threshold", "mean_exposure")
INDICATION_GROUPS = ("solid", "haem")
FOOD_ADVICE = ("fasted", "with_food", "either")


class CatalogueError(ValueError):
    """A drugs.csv row that cannot be used; the message names the column."""


@dataclass(frozen=True)
class DrugFacts:
    """One catalogue row. Doses in mg (Decimal: sunitinib 37.5, trametinib 0.5), times in h."""

    drug: str
    indication: str | None
    indication_group: str
    tdm_level: str
    metric: str
    target_ng_ml: Decimal | None
    target_basis: str
    upper_threshold_ng_ml: Decimal | None
    mean_exposure: Decimal | None
    unit: str
    analyte: str
    standard_daily_dose_mg: Decimal
    administrations_per_day: int
    half_life_h: Decimal
    tmax_h: Decimal
    min_hours_after_dose: Decimal | None
    extrapolation: bool
    dose_levels_mg: tuple[Decimal, ...]
    label_max_daily_dose_mg: Decimal
    max_daily_dose_mg: Decimal
    max_single_dose_mg: Decimal | None
    strengths_mg: tuple[Decimal, ...]
    nonlinear_absorption: bool
    cycle_on_days: int | None
    cycle_length_days: int | None
    food: str
    molar_mass_g_mol: Decimal
    notes: str = ""
    source: str = ""
    verified: str = ""

    @property
    def label(self) -> str:
        return f"{self.drug} ({self.indication})" if self.indication else self.drug

    @property
    def has_cmin_target(self) -> bool:
        return self.metric == "cmin" and self.target_ng_ml is not None

    @property
    def earliest_extrapolation_h(self) -> Decimal:
        """`min_hours_after_dose`, or `tmax_h` where the catalogue leaves it empty
        (docs/clinical-rules.md §2.1, `before_min_time`)."""
        return self.min_hours_after_dose if self.min_hours_after_dose is not None else self.tmax_h


def _text(row: Mapping[str, str], column: str) -> str:
    return (row.get(column) or "").strip()


def _decimal(row: Mapping[str, str], column: str, *, required: bool) -> Decimal | None:
    raw = _text(row, column)
    if not raw:
        if required:
            raise CatalogueError(f"{column}: a value is required")
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise CatalogueError(f"{column}: {raw!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise CatalogueError(f"{column}: {raw!r} must be a non-negative number")
    return value


def _required_decimal(row: Mapping[str, str], column: str) -> Decimal:
    value = _decimal(row, column, required=True)
    assert value is not None  # noqa: S101 - guaranteed by required=True
    return value


def _integer(row: Mapping[str, str], column: str, *, required: bool) -> int | None:
    value = _decimal(row, column, required=required)
    if value is None:
        return None
    if value != value.to_integral_value():
        raise CatalogueError(f"{column}: {value} must be a whole number")
    return int(value)


def _decimal_list(row: Mapping[str, str], column: str) -> tuple[Decimal, ...]:
    raw = _text(row, column)
    if not raw:
        raise CatalogueError(f"{column}: at least one value is required")
    try:
        values = tuple(Decimal(part.strip()) for part in raw.split(";"))
    except InvalidOperation:
        raise CatalogueError(f"{column}: {raw!r} is not a ;-separated list of numbers") from None
    if any(v <= 0 for v in values):
        raise CatalogueError(f"{column}: every value must be positive")
    return values


def _choice(row: Mapping[str, str], column: str, allowed: tuple[str, ...]) -> str:
    value = _text(row, column)
    if value not in allowed:
        raise CatalogueError(f"{column}: {value!r} is not one of {', '.join(allowed)}")
    return value


def _yes_no(row: Mapping[str, str], column: str) -> bool:
    return _choice(row, column, ("yes", "no")) == "yes"


def parse_drug_row(row: Mapping[str, str]) -> DrugFacts:
    """Turn one drugs.csv row (column name → text) into `DrugFacts`, checking every value."""
    drug = _text(row, "drug").lower()
    if not drug:
        raise CatalogueError("drug: a name is required")
    dose_levels = _decimal_list(row, "dose_levels_mg")
    if list(dose_levels) != sorted(set(dose_levels)):
        raise CatalogueError("dose_levels_mg: levels must be unique and ascending")
    administrations = _integer(row, "administrations_per_day", required=True)
    assert administrations is not None  # noqa: S101 - guaranteed by required=True
    if not 1 <= administrations <= 4:
        raise CatalogueError("administrations_per_day: must be between 1 and 4")
    metric = _choice(row, "metric", METRICS)
    facts = DrugFacts(
        drug=drug,
        indication=_text(row, "indication") or None,
        indication_group=_choice(row, "indication_group", INDICATION_GROUPS),
        tdm_level=_choice(row, "tdm_level", TDM_LEVELS),
        metric=metric,
        target_ng_ml=_decimal(row, "target_ng_ml", required=metric == "cmin"),
        target_basis=_choice(row, "target_basis", TARGET_BASES)
        if _text(row, "target_basis")
        else "threshold",
        upper_threshold_ng_ml=_decimal(row, "upper_threshold_ng_ml", required=False),
        mean_exposure=_decimal(row, "mean_exposure", required=False),
        unit=_text(row, "unit"),
        analyte=_text(row, "analyte"),
        standard_daily_dose_mg=_required_decimal(row, "standard_daily_dose_mg"),
        administrations_per_day=administrations,
        half_life_h=_required_decimal(row, "half_life_h"),
        tmax_h=_required_decimal(row, "tmax_h"),
        min_hours_after_dose=_decimal(row, "min_hours_after_dose", required=False),
        extrapolation=_yes_no(row, "extrapolation"),
        dose_levels_mg=dose_levels,
        label_max_daily_dose_mg=_required_decimal(row, "label_max_daily_dose_mg"),
        max_daily_dose_mg=_required_decimal(row, "max_daily_dose_mg"),
        max_single_dose_mg=_decimal(row, "max_single_dose_mg", required=False),
        strengths_mg=_decimal_list(row, "strengths_mg"),
        nonlinear_absorption=_yes_no(row, "nonlinear_absorption"),
        cycle_on_days=_integer(row, "cycle_on_days", required=False),
        cycle_length_days=_integer(row, "cycle_length_days", required=False),
        food=_choice(row, "food", FOOD_ADVICE),
        molar_mass_g_mol=_required_decimal(row, "molar_mass_g_mol"),
        notes=_text(row, "notes"),
        source=_text(row, "source"),
        verified=_text(row, "verified"),
    )
    if facts.half_life_h <= 0:
        raise CatalogueError("half_life_h: must be positive")
    if facts.max_daily_dose_mg not in facts.dose_levels_mg:
        raise CatalogueError("max_daily_dose_mg: must be one of dose_levels_mg")
    if (facts.cycle_on_days is None) != (facts.cycle_length_days is None):
        raise CatalogueError("cycle_on_days: give both cycle columns or neither")
    if facts.cycle_on_days is not None and not (
        0 < facts.cycle_on_days < (facts.cycle_length_days or 0)
    ):
        raise CatalogueError("cycle_on_days: must be positive and shorter than the cycle")
    return facts


def read_catalogue(path: Path = CATALOGUE_CSV) -> Iterator[DrugFacts]:
    """Every row of a drugs.csv file; the error names the line and the column."""
    with path.open(newline="", encoding="utf-8") as handle:
        for line_number, row in enumerate(csv.DictReader(handle), start=2):
            try:
                yield parse_drug_row(row)
            except CatalogueError as error:
                raise CatalogueError(f"{path.name} line {line_number}: {error}") from None
