from django.conf import settings
from django.db import models

from cases.models import (
    AdverseEvent,
    DoseRegimen,
    Sample,
    SiteScopedModel,
    TimestampedModel,
    Treatment,
)
from cases.models.drugs import DOSE
from cases.models.samples import CONCENTRATION


class Advice(SiteScopedModel, TimestampedModel):
    """Dosing advice computed from one sample (or one adverse event) and its sign-off.

    `inputs` is a frozen copy of everything the engine used (drug facts included) and `computed`
    the engine's output as it was; the columns beside them are what the pharmacist released
    (`edited` says whether they differ). `report_pdf` is the unsigned report, re-rendered while
    the advice is open; `signed_report_pdf` is rendered once after the decision.
    Workflow: draft → released → accepted | rejected, or superseded by a newer or corrected
    result, or withdrawn by the pharmacist with a reason. Once signed, nothing about an advice
    changes: an advice computed after a correction of its sample names it in `follows`.
    """

    class State(models.TextChoices):
        DRAFT = "draft"
        RELEASED = "released"
        ACCEPTED = "accepted"
        REJECTED = "rejected"
        SUPERSEDED = "superseded"
        WITHDRAWN = "withdrawn"

    class Kind(models.TextChoices):
        SAMPLE = "sample", "Ctrough result"
        TOXICITY = "toxicity", "adverse event"

    site_lookup = "treatment__patient__site"

    treatment = models.ForeignKey(Treatment, on_delete=models.PROTECT, related_name="advice")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    sample = models.ForeignKey(
        Sample, null=True, blank=True, on_delete=models.PROTECT, related_name="advice"
    )
    adverse_event = models.ForeignKey(
        AdverseEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="advice"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    inputs = models.JSONField()
    computed = models.JSONField()
    action = models.CharField(max_length=30)
    evaluable = models.BooleanField(null=True)
    reasons = models.JSONField(default=list)
    ctrough_ng_ml = models.DecimalField(**CONCENTRATION, null=True, blank=True)
    target_ng_ml = models.DecimalField(**CONCENTRATION, null=True, blank=True)
    current_daily_dose_mg = models.DecimalField(**DOSE)
    proposed_daily_dose_mg = models.DecimalField(**DOSE)
    proposed_administrations_per_day = models.PositiveSmallIntegerField()
    proposed_split_mg = models.JSONField(default=list)
    predicted_ctrough_ng_ml = models.DecimalField(**CONCENTRATION, null=True, blank=True)
    warnings = models.JSONField(default=list)
    checks = models.JSONField(default=list)
    text = models.TextField()
    provisional = models.BooleanField(default=False)
    edited = models.BooleanField(
        default=False, help_text="The pharmacist changed the computed text or regimen on release"
    )
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    released_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True)
    withdrawal_reason = models.TextField(blank=True)
    follows = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="followed_by",
        help_text="The signed advice on the same sample before it was corrected",
    )
    checks_confirmed = models.JSONField(default=list, blank=True)
    effective_date = models.DateField(null=True, blank=True)
    dose_regimen = models.OneToOneField(
        DoseRegimen,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="advice",
        help_text="The dose the accepted advice prescribed",
    )
    report_pdf = models.FileField(upload_to="reports/", blank=True)
    report_sha256 = models.CharField(max_length=64, blank=True)
    signed_report_pdf = models.FileField(upload_to="reports/", blank=True)
    signed_report_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "advice"
        permissions = [
            ("release_advice", "Can review and release advice to the physician"),
            ("sign_advice", "Can accept or reject released advice"),
            ("withdraw_advice", "Can withdraw draft advice with a reason"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind="sample", sample__isnull=False)
                | models.Q(kind="toxicity", adverse_event__isnull=False),
                name="advice_has_its_source",
            ),
            # One open advice per source record: a task that runs twice creates it once. A
            # sample corrected after its advice was signed gets a new one beside the signed one.
            models.UniqueConstraint(
                fields=["sample"],
                condition=models.Q(sample__isnull=False, state__in=["draft", "released"]),
                name="one_open_advice_per_sample",
            ),
            models.UniqueConstraint(
                fields=["adverse_event"],
                condition=models.Q(adverse_event__isnull=False)
                & ~models.Q(state__in=["superseded", "withdrawn"]),
                name="one_live_advice_per_adverse_event",
            ),
            models.CheckConstraint(
                condition=~models.Q(state="rejected") | ~models.Q(rejection_reason=""),
                name="advice_rejection_has_reason",
            ),
            models.CheckConstraint(
                condition=~models.Q(state="withdrawn") | ~models.Q(withdrawal_reason=""),
                name="advice_withdrawal_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["treatment", "state"]),
            models.Index(fields=["state", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display_text()} for {self.treatment.patient} ({self.state})"

    def get_action_display_text(self) -> str:
        return self.action.replace("_", " ")


# The states in which advice still waits for its decision (its report is re-rendered, a newer
# result supersedes it, a cancelled sample withdraws it).
OPEN_STATES = (Advice.State.DRAFT, Advice.State.RELEASED)


class SigningLock(models.Model):
    """A user's signing locked after repeated wrong signature passwords (docs/workflow.md §3),
    until an administrator unlocks it; at most one open lock per user."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="signing_locks"
    )
    locked_at = models.DateTimeField(auto_now_add=True)
    unlocked_at = models.DateTimeField(null=True, blank=True)
    unlocked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(unlocked_at__isnull=True),
                name="one_open_signing_lock_per_user",
            ),
        ]

    def __str__(self) -> str:
        state = "open" if self.unlocked_at is None else f"unlocked {self.unlocked_at:%Y-%m-%d}"
        return f"signing of {self.user} locked {self.locked_at:%Y-%m-%d %H:%M} ({state})"
