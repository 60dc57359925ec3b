from django.conf import settings
from django.db import models

from .sites import Site


class AuditTrailIsAppendOnly(Exception):
    """Raised on any attempt to change or remove an audit event."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditTrailIsAppendOnly("audit events cannot be changed")

    def delete(self):
        raise AuditTrailIsAppendOnly("audit events cannot be deleted")

    def visible_to(self, user) -> "AuditEventQuerySet":
        from cases.access import visible_site_ids

        site_ids = visible_site_ids(user)
        if site_ids is None:
            return self.all()
        return self.filter(site_id__in=site_ids)


class AuditEvent(models.Model):
    """Who did what to which record, when, with the record before and after (append-only).

    Written by the service that makes the change, in the same transaction. The model refuses
    updates and deletes, and on PostgreSQL a trigger refuses them for everyone else as well.
    """

    class Action(models.TextChoices):
        CREATE = "create"
        UPDATE = "update"
        CANCEL = "cancel"
        LOGIN = "login"
        LOGIN_FAILED = "login_failed", "failed login"
        LOGOUT = "logout"
        RELEASE = "release"
        ACCEPT = "accept"
        REJECT = "reject"
        EXPORT = "export"
        # An action the user's rights do not allow, tried anyway (e.g. granting superuser).
        REFUSED = "refused"
        SIGN_FAILED = "sign_failed", "failed signature"

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    model = models.CharField(max_length=60, blank=True, help_text="app_label.model")
    object_id = models.CharField(max_length=40, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    detail = models.CharField(max_length=300, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["model", "object_id"]),
            models.Index(fields=["site", "at"]),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_username or '-'} {self.action} {self.model}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AuditTrailIsAppendOnly("audit events cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditTrailIsAppendOnly("audit events cannot be deleted")
