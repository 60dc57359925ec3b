import datetime
from decimal import Decimal

from django.conf import settings
from django.db import models

from cases import regimens

from .base import SiteScopedModel, TimestampedModel
from .drugs import DOSE, Drug
from .patients import Patient


class Treatment(SiteScopedModel, TimestampedModel):
    """One patient on one catalogue drug (and indication): the prescribed course.

    Its dose history is the DoseRegimen rows; status and phase follow from them and from the
    stop date, so they are computed, never stored twice.
    """

    class Status(models.TextChoices):
        ACTIVE = "active"
        INTERRUPTED = "interrupted"
        STOPPED = "stopped"

    class Phase(models.TextChoices):
        STEP_UP = "step_up", "step-up"
        MAINTENANCE = "maintenance"

    site_lookup = "patient__site"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="treatments")
    drug = models.ForeignKey(Drug, on_delete=models.PROTECT, related_name="treatments")
    start_date = models.DateField()
    stop_date = models.DateField(null=True, blank=True)
    stop_reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["patient", "start_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(stop_date__isnull=True)
                | models.Q(stop_date__gte=models.F("start_date")),
                name="treatment_stop_not_before_start",
            ),
        ]
        indexes = [models.Index(fields=["patient", "start_date"])]

    def __str__(self) -> str:
        return f"{self.patient} – {self.drug} from {self.start_date:%Y-%m-%d}"

    def dose_history(self) -> list[regimens.DoseStep]:
        """The regimens as plain values, oldest first (uses a prefetched `regimens` if any)."""
        return [r.as_step() for r in sorted(self.regimens.all(), key=lambda r: r.effective_from)]

    def regimen_on(self, day: datetime.date) -> "DoseRegimen | None":
        candidates = [r for r in self.regimens.all() if r.effective_from <= day]
        return max(candidates, key=lambda r: r.effective_from) if candidates else None

    def status_on(self, day: datetime.date) -> str:
        return regimens.status_on(day, self.dose_history(), self.stop_date)

    def phase_on(self, day: datetime.date) -> str:
        return regimens.phase_on(day, self.dose_history(), self.drug.standard_daily_dose_mg)


class DoseRegimen(SiteScopedModel):
    """One prescribed daily dose within a treatment, from `effective_from` until the next one.

    A daily dose of 0 mg is an interruption. Rows are never edited or deleted: a correction is a
    new regimen, so the dose history stays what was prescribed at each moment.
    """

    class Reason(models.TextChoices):
        START = "start"
        STEP_UP = "step_up", "step-up"
        TDM_ADVICE = "tdm_advice", "TDM advice"
        TOXICITY = "toxicity"
        INTERRUPTION = "interruption"
        RESUME = "resume"
        OTHER = "other"

    site_lookup = "treatment__patient__site"

    treatment = models.ForeignKey(Treatment, on_delete=models.PROTECT, related_name="regimens")
    effective_from = models.DateField()
    daily_dose_mg = models.DecimalField(**DOSE)
    administrations_per_day = models.PositiveSmallIntegerField()
    split_mg = models.JSONField(
        default=list,
        blank=True,
        help_text="Dose per administration in mg, largest first, e.g. [400, 200]",
    )
    reason = models.CharField(max_length=20, choices=Reason.choices)
    off_label = models.BooleanField(
        default=False, help_text="Confirmed dose outside the drug's catalogue dose levels"
    )
    off_label_reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True, editable=False)

    class Meta:
        ordering = ["treatment", "effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["treatment", "effective_from"], name="one_regimen_per_treatment_day"
            ),
            models.CheckConstraint(
                condition=models.Q(daily_dose_mg__gte=0), name="regimen_dose_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(administrations_per_day__gte=1, administrations_per_day__lte=4),
                name="regimen_administrations_1_to_4",
            ),
            models.CheckConstraint(
                condition=models.Q(off_label=False) | ~models.Q(off_label_reason=""),
                name="regimen_off_label_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.daily_dose_mg.normalize():f} mg/day from {self.effective_from:%Y-%m-%d}"

    def as_step(self) -> regimens.DoseStep:
        return regimens.DoseStep(
            effective_from=self.effective_from,
            daily_dose_mg=Decimal(self.daily_dose_mg),
            administrations_per_day=self.administrations_per_day,
        )
