from django.db import models

from .base import SiteScopedModel
from .samples import Sample
from .treatments import Treatment


class DueDate(SiteScopedModel):
    """One due date of a treatment's sampling schedule, kept where SQL can see it
    (docs/sampling-schedule.md §13).

    A copy of the pure schedule (`cases.schedule`) and of which sample fulfils each date, from
    the start up to the treatment's `DueDateHorizon`; rewritten by `due_dates_refresh` in the
    transaction of every write that changes either, never edited otherwise.
    """

    class Kind(models.TextChoices):
        REGULAR = "regular"
        POST_CHANGE = "post_change", "post-change"
        EXTRA = "extra"

    site_lookup = "treatment__patient__site"

    treatment = models.ForeignKey(
        Treatment, on_delete=models.CASCADE, related_name="stored_due_dates"
    )
    date = models.DateField()
    kind = models.CharField(max_length=12, choices=Kind.choices)
    # The first day a sample counts for the date (docs/sampling-schedule.md §8: 7 days before).
    window_opens = models.DateField()
    fulfilled_by = models.OneToOneField(
        Sample, null=True, blank=True, on_delete=models.SET_NULL, related_name="fulfils"
    )

    class Meta:
        ordering = ["treatment", "date"]
        constraints = [
            models.UniqueConstraint(fields=["treatment", "date"], name="one_due_date_per_day"),
        ]
        indexes = [
            models.Index(fields=["date"]),
            # The worklist's overdue section and the reminder scan read the open dates before a
            # day: most past dates are fulfilled, and reading them in date order through the
            # index above visits every one of them (0.9 s at 120 000 treatments).
            models.Index(
                fields=["date"],
                condition=models.Q(fulfilled_by__isnull=True),
                name="due_date_open_by_date",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} sample of treatment {self.treatment_id} due {self.date:%Y-%m-%d}"


class DueDateHorizon(models.Model):
    """The last day up to which a treatment's due dates are stored (`DueDate`)."""

    treatment = models.OneToOneField(
        Treatment, on_delete=models.CASCADE, primary_key=True, related_name="due_date_horizon"
    )
    until = models.DateField(db_index=True)

    def __str__(self) -> str:
        return f"due dates of treatment {self.treatment_id} stored up to {self.until:%Y-%m-%d}"
