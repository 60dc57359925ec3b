import datetime

from django.db import models
from django.db.models import Expression, F, Func, Value

from .base import SiteScopedModel
from .samples import Sample
from .treatments import Treatment


class CurrentDays(Func):
    """The days a due date is its treatment's current one: after its day, up to and including
    `current_until` (open-ended while that is empty). A range on PostgreSQL, which a GiST index
    finds the rows of one day in, however long the history; `current_until` elsewhere."""

    output_field = models.DateField()

    def __init__(self) -> None:
        super().__init__(F("date"), F("current_until"))

    def as_sql(self, compiler, connection, **extra_context):
        return compiler.compile(self.source_expressions[1])

    def as_postgresql(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler, connection, template="daterange(%(expressions)s, '(]')", **extra_context
        )


class CurrentDaysIndex(models.Index):
    """An index on `CurrentDays`: GiST on PostgreSQL (a B-tree cannot find the ranges holding a
    day), the default kind elsewhere."""

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor == "postgresql":
            using = " USING gist"
        return super().create_sql(model, schema_editor, using=using, **kwargs)


class CurrentOn(Expression):
    """The due dates that are their treatment's current one on `day` (`DueDate.current_until`)."""

    conditional = True
    output_field = models.BooleanField()

    def __init__(self, day: datetime.date) -> None:
        super().__init__()
        self.day = day
        self.days = CurrentDays()
        self.date = F("date")
        self.until = F("current_until")

    def get_source_expressions(self):
        return [self.days, self.date, self.until]

    def set_source_expressions(self, expressions):
        self.days, self.date, self.until = expressions

    def as_sql(self, compiler, connection, **extra_context):
        date, date_params = compiler.compile(self.date)
        until, until_params = compiler.compile(self.until)
        day, day_params = compiler.compile(Value(self.day, models.DateField()))
        return (
            f"({date} < {day} AND ({until} IS NULL OR {until} >= {day}))",
            (*date_params, *day_params, *until_params, *until_params, *day_params),
        )

    def as_postgresql(self, compiler, connection, **extra_context):
        days, days_params = compiler.compile(self.days)
        day, day_params = compiler.compile(Value(self.day, models.DateField()))
        return f"{days} @> {day}", (*days_params, *day_params)


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
    # The last day this is its treatment's current date, the latest one before the day (the
    # only one that can still be overdue): the day of the next stored date, or the eve of the
    # treatment's stop if that comes first; empty while neither is stored.
    current_until = models.DateField(null=True, blank=True)

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
            # The current dates of a day (`current_on`): the day lies inside each one's days.
            CurrentDaysIndex(
                CurrentDays(),
                condition=models.Q(fulfilled_by__isnull=True),
                name="due_date_open_current",
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
