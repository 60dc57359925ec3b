from django.conf import settings
from django.db import models

from .base import SiteScopedModel, TimestampedModel
from .drugs import DOSE
from .treatments import Treatment

CONCENTRATION = {"max_digits": 14, "decimal_places": 4}


class Sample(SiteScopedModel, TimestampedModel):
    """One blood sample for a plasma level: when drawn, when the last dose was taken, the result.

    The dose at the time is copied from the regimen on the draw date; the computed fields hold
    what the clinical engine (docs/clinical-rules.md §2) made of it.
    """

    class Status(models.TextChoices):
        SCHEDULED = "scheduled"
        DRAWN = "drawn"
        RESULTED = "resulted"
        CANCELLED = "cancelled"

    class Unit(models.TextChoices):
        NG_ML = "ng/mL"
        UG_L = "µg/L"
        UG_ML = "µg/mL"
        MG_L = "mg/L"
        NMOL_L = "nmol/L"

    class Method(models.TextChoices):
        MEASURED = "measured"
        EXTRAPOLATED = "extrapolated"

    site_lookup = "treatment__patient__site"
    # The reason code of a cancelled sample, after the engine's own (docs/clinical-rules.md §2.1).
    CANCELLED_REASON = "cancelled"

    treatment = models.ForeignKey(Treatment, on_delete=models.PROTECT, related_name="samples")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RESULTED)
    drawn_at = models.DateTimeField()
    last_dose_at = models.DateTimeField(null=True, blank=True)
    daily_dose_mg = models.DecimalField(**DOSE, null=True, blank=True, editable=False)
    administrations_per_day = models.PositiveSmallIntegerField(null=True, editable=False)
    concentration = models.DecimalField(**CONCENTRATION, null=True, blank=True)
    unit = models.CharField(max_length=10, choices=Unit.choices, default=Unit.NG_ML)
    below_lloq = models.BooleanField(
        default=False, help_text="Below the assay's lower limit of quantification"
    )
    analytes = models.JSONField(
        default=dict,
        blank=True,
        help_text="Per-analyte results in ng/mL where the target is a sum (sunitinib + SU12662)",
    )
    lab_accession = models.CharField(max_length=60, blank=True)
    confirmed_implausible = models.BooleanField(
        default=False,
        help_text="The user confirmed a value or time outside the plausible range "
        "(docs/clinical-rules.md §2)",
    )
    cancel_reason = models.CharField(max_length=200, blank=True)
    concentration_ng_ml = models.DecimalField(**CONCENTRATION, null=True, editable=False)
    hours_after_dose = models.DecimalField(
        max_digits=8, decimal_places=2, null=True, editable=False
    )
    estimated_ctrough_ng_ml = models.DecimalField(**CONCENTRATION, null=True, editable=False)
    method = models.CharField(max_length=12, choices=Method.choices, blank=True, editable=False)
    evaluable = models.BooleanField(null=True, editable=False)
    not_evaluable_reasons = models.JSONField(default=list, editable=False)
    warnings = models.JSONField(default=list, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["treatment", "drawn_at"]
        permissions = [("correct_sample", "Can correct a sample's times or result with a reason")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(concentration__isnull=True) | models.Q(concentration__gte=0),
                name="sample_concentration_not_negative",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="resulted")
                | models.Q(concentration__isnull=False)
                | models.Q(below_lloq=True),
                name="sample_resulted_has_result",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="cancelled") | ~models.Q(cancel_reason=""),
                name="sample_cancel_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["treatment", "drawn_at"]),
            models.Index(fields=["status", "drawn_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.treatment.patient} sample {self.drawn_at:%Y-%m-%d %H:%M}"


class ExtraDueDate(SiteScopedModel):
    """An unscheduled sample asked for on a date (e.g. "re-sample in 2 weeks"): a due date of
    kind `extra` beside the regular schedule (docs/sampling-schedule.md)."""

    site_lookup = "treatment__patient__site"

    treatment = models.ForeignKey(
        Treatment, on_delete=models.PROTECT, related_name="extra_due_dates"
    )
    date = models.DateField()
    reason = models.CharField(max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True, editable=False)

    class Meta:
        ordering = ["treatment", "date"]
        constraints = [
            models.UniqueConstraint(fields=["treatment", "date"], name="one_extra_sample_per_day"),
            models.CheckConstraint(condition=~models.Q(reason=""), name="extra_sample_has_reason"),
        ]

    def __str__(self) -> str:
        return f"extra sample for {self.treatment} on {self.date:%Y-%m-%d}"
