from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from .base import TimestampedModel

site_code_validator = RegexValidator(
    r"^[A-Z0-9][A-Z0-9_-]{0,19}$",
    "Use 1–20 capital letters, digits, '-' or '_' (e.g. AMC or SITE1).",
)


class Site(TimestampedModel):
    """A hospital taking part; every clinical record belongs to exactly one site."""

    code = models.CharField(max_length=20, unique=True, validators=[site_code_validator])
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} – {self.name}"


class SiteMembership(models.Model):
    """A user works at a site: the sites whose records they see (docs/access.md)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="site_memberships"
    )
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="memberships")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "site"], name="unique_site_membership"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.site.code}"
