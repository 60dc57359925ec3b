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
    overlap_reason = models.CharField(
        max_length=200,
        blank=True,
        help_text="Why this treatment overlaps another live treatment of the same drug",
    )
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

    def live_regimens(self) -> list["DoseRegimen"]:
        """The regimens that count, oldest first: withdrawn and entered-in-error ones are kept
        for the record only (uses a prefetched `regimens` if any)."""
        return sorted(
            (r for r in self.regimens.all() if r.status == DoseRegimen.Status.ACTIVE),
            key=lambda r: r.effective_from,
        )

    def dose_history(self) -> list[regimens.DoseStep]:
        """The live regimens as plain values, oldest first."""
        return [r.as_step() for r in self.live_regimens()]

    def regimen_on(self, day: datetime.date) -> "DoseRegimen | None":
        candidates = [r for r in self.live_regimens() if r.effective_from <= day]
        return candidates[-1] if candidates else None

    def status_on(self, day: datetime.date) -> str:
        return regimens.status_on(day, self.dose_history(), self.stop_date)

    def phase_on(self, day: datetime.date) -> str:
        return regimens.phase_on(day, self.dose_history(), self.drug.standard_daily_dose_mg)


class DoseRegimen(SiteScopedModel):
    """One prescribed daily dose within a treatment, from `effective_from` until the next one.

    A daily dose of 0 mg is an interruption. Rows are never deleted and their dose is never
    edited: a change is a new regimen. One not yet in effect can be withdrawn, one already in
    effect marked entered in error; either stays on record, struck through, and counts for
    nothing (docs/workflow.md §5).
    """

    class Status(models.TextChoices):
        ACTIVE = "active"
        WITHDRAWN = "withdrawn"
        ENTERED_IN_ERROR = "entered_in_error", "entered in error"

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
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.ACTIVE, editable=False
    )
    status_reason = models.CharField(max_length=200, blank=True, editable=False)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    status_changed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["treatment", "effective_from"]
        permissions = [
            ("withdraw_doseregimen", "Can withdraw a dose regimen not yet in effect"),
            ("mark_doseregimen_in_error", "Can mark a dose regimen in effect as entered in error"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["treatment", "effective_from"],
                condition=models.Q(status="active"),
                name="one_live_regimen_per_treatment_day",
            ),
            models.CheckConstraint(
                condition=models.Q(status="active") | ~models.Q(status_reason=""),
                name="regimen_withdrawal_has_reason",
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
