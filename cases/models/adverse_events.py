from django.conf import settings
from django.db import models

from .base import SiteScopedModel, TimestampedModel
from .treatments import Treatment


class AdverseEvent(SiteScopedModel, TimestampedModel):
    """An adverse event during a treatment, graded with CTCAE v5.0 (docs/clinical-rules.md §6).

    `occurrence` counts this term within the treatment (1 = first time): the toxicity rules of
    docs/clinical-rules.md §6 depend on it. A record entered in error is marked so, never deleted.
    """

    class Action(models.TextChoices):
        NONE = "none"
        INTERRUPTED = "interrupted"
        REDUCED = "reduced"
        DISCONTINUED = "discontinued"

    site_lookup = "treatment__patient__site"

    treatment = models.ForeignKey(
        Treatment, on_delete=models.PROTECT, related_name="adverse_events"
    )
    term = models.CharField(max_length=200, help_text="CTCAE v5.0 term")
    meddra_code = models.CharField(max_length=12, blank=True)
    other_specify = models.CharField(
        max_length=200, blank=True, help_text="Only for a '… - Other, specify' term"
    )
    grade = models.PositiveSmallIntegerField()
    onset = models.DateField()
    resolved = models.DateField(null=True, blank=True)
    related = models.BooleanField(default=True, help_text="Related to the treatment")
    action = models.CharField(max_length=12, choices=Action.choices, default=Action.NONE)
    occurrence = models.PositiveSmallIntegerField(default=1, editable=False)
    entered_in_error = models.BooleanField(default=False, editable=False)
    error_reason = models.CharField(max_length=200, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["treatment", "onset", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(grade__gte=1, grade__lte=5), name="ae_grade_1_to_5"
            ),
            models.CheckConstraint(
                condition=models.Q(resolved__isnull=True)
                | models.Q(resolved__gte=models.F("onset")),
                name="ae_resolved_not_before_onset",
            ),
            models.CheckConstraint(
                condition=models.Q(occurrence__gte=1), name="ae_occurrence_positive"
            ),
        ]
        indexes = [models.Index(fields=["treatment", "term", "onset"])]

    def __str__(self) -> str:
        return f"{self.term} grade {self.grade} ({self.onset:%Y-%m-%d})"
