"""Logins, logouts and failed logins go into the audit trail (SPEC §2 AuditEvent)."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from cases import audit
from cases.models import AuditEvent


@receiver(user_logged_in)
def audit_login(sender, request, user, **kwargs) -> None:
    audit.record(actor=user, action=AuditEvent.Action.LOGIN)


@receiver(user_logged_out)
def audit_logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        audit.record(actor=user, action=AuditEvent.Action.LOGOUT)


@receiver(user_login_failed)
def audit_login_failed(sender, credentials, request=None, **kwargs) -> None:
    username = str(credentials.get("username", ""))[:150]
    audit.record(actor=None, action=AuditEvent.Action.LOGIN_FAILED, actor_username=username)
