from django.conf import settings
from django.db import models

from advice.models import Advice
from cases.models import SiteScopedModel, Treatment


class Reminder(SiteScopedModel):
    """A reminder about a sample due date (docs/sampling-schedule.md §9): at most one per date
    and kind. `sent_at` is when it went into its recipients' daily digests."""

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


class Notification(models.Model):
    """An in-app message to one user (sent by e-mail as well), e.g. the day's samples to take or
    advice to sign.

    Unique per recipient and cause, so a task that runs twice notifies once: per advice and kind,
    and for sampling reminders one digest per recipient and day, listing its `reminders`.
    """

    class Kind(models.TextChoices):
        SAMPLE_DIGEST = "sample_digest", "samples to take"
        # One notification per reminder, as sent before the daily digest; kept for those on
        # record.
        SAMPLE_UPCOMING = "sample_upcoming", "sample due soon"
        SAMPLE_OVERDUE = "sample_overdue", "sample overdue"
        ADVICE_RELEASED = "advice_released", "advice to sign"
        ADVICE_UNSIGNED = "advice_unsigned", "advice still unsigned"
        ADVICE_SUPERSEDED = "advice_superseded", "advice superseded: do not sign"
        SIGNING_LOCKED = "signing_locked", "signing locked"

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    link = models.CharField(max_length=200, blank=True)
    advice = models.ForeignKey(
        Advice, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    reminders = models.ManyToManyField(Reminder, blank=True, related_name="notifications")
    digest_date = models.DateField(
        null=True, blank=True, help_text="The day of the reminder scan a digest reports"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "kind", "advice"],
                condition=models.Q(advice__isnull=False),
                name="one_notification_per_advice_kind",
            ),
            models.UniqueConstraint(
                fields=["recipient", "kind", "digest_date"],
                condition=models.Q(digest_date__isnull=False),
                name="one_digest_per_recipient_day",
            ),
        ]
        indexes = [models.Index(fields=["recipient", "read_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.recipient}"
