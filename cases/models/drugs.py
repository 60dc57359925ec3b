import functools
from decimal import Decimal

from django.conf import settings
from django.db import models

from advice.engine.catalogue import (
    FOOD_ADVICE,
    INDICATION_GROUPS,
    METRICS,
    TARGET_BASES,
    TDM_LEVELS,
    DrugFacts,
    parse_drug_row,
)

from .base import TimestampedModel

DOSE = {"max_digits": 8, "decimal_places": 2}
EXPOSURE = {"max_digits": 12, "decimal_places": 3}
HOURS = {"max_digits": 7, "decimal_places": 2}

# The catalogue columns in drugs.csv order: the model stores exactly one CSV row.
CATALOGUE_COLUMNS = (
    "drug", "indication", "indication_group", "tdm_level", "metric", "target_ng_ml",
    "target_basis", "upper_threshold_ng_ml", "mean_exposure", "unit", "analyte",
    "standard_daily_dose_mg", "administrations_per_day", "half_life_h", "tmax_h",
    "min_hours_after_dose", "extrapolation", "dose_levels_mg", "label_max_daily_dose_mg",
    "max_daily_dose_mg", "max_single_dose_mg", "strengths_mg", "nonlinear_absorption",
    "cycle_on_days", "cycle_length_days", "food", "molar_mass_g_mol", "notes", "source",
    "verified",
)  # fmt: skip


def _choices(values: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(value, value) for value in values]


def _csv_number(value: Decimal | int | None) -> str:
    if value is None:
        return ""
    return format(Decimal(value).normalize(), "f")


def catalogue_field_values(facts: DrugFacts) -> dict[str, object]:
    """Model field values for a parsed catalogue row."""
    return {
        "name": facts.drug,
        "indication": facts.indication or "",
        "indication_group": facts.indication_group,
        "tdm_level": facts.tdm_level,
        "metric": facts.metric,
        "target_ng_ml": facts.target_ng_ml,
        "target_basis": facts.target_basis,
        "upper_threshold_ng_ml": facts.upper_threshold_ng_ml,
        "mean_exposure": facts.mean_exposure,
        "unit": facts.unit,
        "analyte": facts.analyte,
        "standard_daily_dose_mg": facts.standard_daily_dose_mg,
        "administrations_per_day": facts.administrations_per_day,
        "half_life_h": facts.half_life_h,
        "tmax_h": facts.tmax_h,
        "min_hours_after_dose": facts.min_hours_after_dose,
        "extrapolation": facts.extrapolation,
        "dose_levels_mg": ";".join(_csv_number(v) for v in facts.dose_levels_mg),
        "label_max_daily_dose_mg": facts.label_max_daily_dose_mg,
        "max_daily_dose_mg": facts.max_daily_dose_mg,
        "max_single_dose_mg": facts.max_single_dose_mg,
        "strengths_mg": ";".join(_csv_number(v) for v in facts.strengths_mg),
        "nonlinear_absorption": facts.nonlinear_absorption,
        "cycle_on_days": facts.cycle_on_days,
        "cycle_length_days": facts.cycle_length_days,
        "food": facts.food,
        "molar_mass_g_mol": facts.molar_mass_g_mol,
        "notes": facts.notes,
        "source": facts.source,
        "verified": facts.verified,
    }


class Drug(TimestampedModel):
    """One row of the drug catalogue (drugs.csv): target, PK facts and dose levels.

    Keyed by (name, indication); `indication` is empty for drugs listed once. Every change made
    by an admin or `load_drugs` is kept as a `DrugVersion`, and advice freezes the facts it used.
    """

    name = models.CharField(max_length=60)
    indication = models.CharField(max_length=40, blank=True, default="")
    indication_group = models.CharField(max_length=10, choices=_choices(INDICATION_GROUPS))
    tdm_level = models.CharField(max_length=20, choices=_choices(TDM_LEVELS))
    metric = models.CharField(max_length=10, choices=_choices(METRICS))
    target_ng_ml = models.DecimalField(**EXPOSURE, null=True, blank=True)
    target_basis = models.CharField(max_length=20, choices=_choices(TARGET_BASES))
    upper_threshold_ng_ml = models.DecimalField(**EXPOSURE, null=True, blank=True)
    mean_exposure = models.DecimalField(**EXPOSURE, null=True, blank=True)
    unit = models.CharField(max_length=40)
    analyte = models.CharField(max_length=200, blank=True)
    standard_daily_dose_mg = models.DecimalField(**DOSE)
    administrations_per_day = models.PositiveSmallIntegerField()
    half_life_h = models.DecimalField(**HOURS)
    tmax_h = models.DecimalField(**HOURS)
    min_hours_after_dose = models.DecimalField(**HOURS, null=True, blank=True)
    extrapolation = models.BooleanField(default=True)
    dose_levels_mg = models.CharField(max_length=200, help_text="Daily doses, low to high, ';'")
    label_max_daily_dose_mg = models.DecimalField(**DOSE)
    max_daily_dose_mg = models.DecimalField(**DOSE)
    max_single_dose_mg = models.DecimalField(**DOSE, null=True, blank=True)
    strengths_mg = models.CharField(max_length=200, help_text="Tablet strengths in mg, ';'")
    nonlinear_absorption = models.BooleanField(default=False)
    cycle_on_days = models.PositiveSmallIntegerField(null=True, blank=True)
    cycle_length_days = models.PositiveSmallIntegerField(null=True, blank=True)
    food = models.CharField(max_length=20, choices=_choices(FOOD_ADVICE))
    molar_mass_g_mol = models.DecimalField(max_digits=8, decimal_places=2)
    notes = models.TextField(blank=True)
    source = models.TextField(blank=True)
    verified = models.CharField(max_length=20, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        ordering = ["name", "indication"]
        constraints = [
            models.UniqueConstraint(fields=["name", "indication"], name="unique_drug_indication"),
            models.CheckConstraint(
                condition=models.Q(administrations_per_day__gte=1, administrations_per_day__lte=4),
                name="drug_administrations_1_to_4",
            ),
            models.CheckConstraint(
                condition=models.Q(half_life_h__gt=0), name="drug_half_life_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.indication})" if self.indication else self.name

    def as_row(self) -> dict[str, str]:
        """The drugs.csv row this drug is, column name → text."""
        values = {
            column: getattr(self, column)
            for column in CATALOGUE_COLUMNS
            if column not in {"drug", "extrapolation", "nonlinear_absorption"}
        }
        row = {
            column: _csv_number(value) if isinstance(value, Decimal | int) else (value or "")
            for column, value in values.items()
        }
        row["drug"] = self.name
        row["extrapolation"] = "yes" if self.extrapolation else "no"
        row["nonlinear_absorption"] = "yes" if self.nonlinear_absorption else "no"
        return {column: row[column] for column in CATALOGUE_COLUMNS}

    def facts(self) -> DrugFacts:
        """The plain-value form the clinical engine works with."""
        return _parsed_row(tuple(self.as_row().items()))


@functools.lru_cache(maxsize=256)
def _parsed_row(row: tuple[tuple[str, str], ...]) -> DrugFacts:
    """A catalogue row parsed once per process: every sample and advice asks its drug's facts,
    and the catalogue holds a few dozen rows (an edited row is another key)."""
    return parse_drug_row(dict(row))


class DrugVersion(models.Model):
    """A catalogue row as it stood from `valid_from` on: the history of admin and loader edits."""

    drug = models.ForeignKey(Drug, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    row = models.JSONField(help_text="The drugs.csv row, column name → text")
    valid_from = models.DateTimeField(auto_now_add=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    change_source = models.CharField(max_length=40, help_text="admin, load_drugs or migration")

    class Meta:
        ordering = ["drug", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["drug", "version"], name="unique_drug_version"),
        ]

    def __str__(self) -> str:
        return f"{self.drug} v{self.version}"
