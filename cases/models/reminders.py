from django.conf import settings
from django.db import models

from .base import SiteScopedModel
from .treatments import Treatment


class Reminder(SiteScopedModel):
    """A reminder sent about a sample due date (SPEC §6): at most one per date and kind."""

    class Kind(models.TextChoices):
        UPCOMING = "upcoming"
        OVERDUE = "overdue"

    site_lookup = "treatment__patient__site"

    treatment = models.ForeignKey(Treatment, on_delete=models.PROTECT, related_name="reminders")
    due_date = models.DateField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reminders",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["treatment", "due_date", "kind"], name="one_reminder_per_due_date_kind"
            ),
        ]
        indexes = [models.Index(fields=["recipient", "sent_at"])]

    def __str__(self) -> str:
        return f"{self.kind} reminder {self.due_date:%Y-%m-%d} for {self.treatment}"
