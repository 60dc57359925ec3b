from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from .base import SiteScopedModel, TimestampedModel
from .sites import Site

study_number_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$",
    "Use up to 32 letters, digits, '-' or '_' (e.g. TDM-0001).",
)

EARLIEST_BIRTH_YEAR = 1900


class Patient(SiteScopedModel, TimestampedModel):
    """A patient in TDM care at one site, known outside the site only by the study number.

    `name` and `record_number` identify the person: they are shown to clinical users of the same
    site only and never leave the system in an export.
    """

    class Sex(models.TextChoices):
        MALE = "M", "male"
        FEMALE = "F", "female"
        OTHER = "X", "other / not stated"

    site_lookup = "site"

    study_number = models.CharField(max_length=32, unique=True, validators=[study_number_validator])
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="patients")
    name = models.CharField(max_length=200, blank=True)
    record_number = models.CharField(max_length=40, blank=True)
    sex = models.CharField(max_length=1, choices=Sex.choices)
    birth_year = models.PositiveSmallIntegerField()
    tumour = models.CharField(max_length=200)
    tumour_code = models.CharField(max_length=20, blank=True, help_text="e.g. ICD-10 C22.0")
    treating_physician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="patients_as_physician",
    )
    responsible_nurse = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="patients_as_nurse",
    )

    class Meta:
        ordering = ["study_number"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(sex__in=["M", "F", "X"]), name="patient_sex_known_value"
            ),
            models.CheckConstraint(
                condition=models.Q(birth_year__gte=EARLIEST_BIRTH_YEAR),
                name="patient_birth_year_plausible",
            ),
            models.UniqueConstraint(
                fields=["site", "record_number"],
                condition=~models.Q(record_number=""),
                name="unique_record_number_per_site",
            ),
        ]
        indexes = [models.Index(fields=["site", "study_number"])]

    def __str__(self) -> str:
        return self.study_number
