from django.conf import settings
from django.db import models


class Export(models.Model):
    """A pseudonymised study-data export asked for by a data manager, made by a Celery task.

    `progress` (0–100) lets the page show how far the task is; `updated_at` is its heartbeat,
    so a task delivered again after its worker died can tell a stalled export from a live one.
    """

    class Format(models.TextChoices):
        CSV = "csv", "CSV (zip, one file per table)"
        XLSX = "xlsx", "Excel workbook"
        JSON = "json", "JSON (eTDM cohort format)"
        FHIR = "fhir", "FHIR R4 bundles"

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="exports"
    )
    format = models.CharField(max_length=10, choices=Format.choices)
    for_release = models.BooleanField(
        default=False,
        help_text="Study numbers re-pseudonymised and dates shifted with the installation's key",
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    file = models.FileField(upload_to="exports/", blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("export_study", "Can export pseudonymised study data")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__gte=0, progress__lte=100),
                name="export_progress_percent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_format_display()} export {self.pk} ({self.state})"

    @property
    def filename(self) -> str:
        extension = {"csv": "zip", "xlsx": "xlsx", "json": "json", "fhir": "ndjson"}[self.format]
        return f"etdm-study-{self.pk}.{extension}"
