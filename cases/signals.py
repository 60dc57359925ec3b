"""The hook between the clinical records and the apps that act on them.

`cases` knows nothing of advice, reports or notifications. Where a write to the records must
start work elsewhere, its service sends one of the signals below inside its transaction; the
receivers are connected in the receiving app's `AppConfig.ready` (docs/architecture.md). A
receiver that writes does so in the same transaction, so an error rolls the whole write back;
one that queues background work does so on commit.

Logins, logouts and failed logins go into the audit trail here as well, and a user's API
token ends with a password change or the user's deactivation.
"""

import time

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import pre_save
from django.dispatch import Signal, receiver
from rest_framework.authtoken.models import Token

from cases import audit
from cases.models import AuditEvent

# A sample got its result (recorded with one, or resulted later): `sample=<Sample>`.
sample_resulted = Signal()
# A sample was cancelled (entered in error, not drawn): `sample=<Sample>`, `actor=<User>`.
sample_cancelled = Signal()
# A drawn or resulted sample's times or result were corrected: `sample=<Sample>` (as corrected),
# `actor=<User>`, `reason=<str>`.
sample_corrected = Signal()
# An adverse event was logged: `event=<AdverseEvent>`.
adverse_event_recorded = Signal()


# When a page session began and when its expiry was last moved on, as seconds since the epoch
# (tdm_site.middleware.SessionLifetimeMiddleware).
SESSION_SIGNED_IN_AT = "signed_in_at"
SESSION_RENEWED_AT = "renewed_at"


@receiver(user_logged_in)
def stamp_the_session(sender, request, user, **kwargs) -> None:
    session = getattr(request, "session", None)
    if session is not None:
        session[SESSION_SIGNED_IN_AT] = session[SESSION_RENEWED_AT] = time.time()


@receiver(user_logged_in)
def audit_login(sender, request, user, **kwargs) -> None:
    on_the_api = request is not None and request.path.startswith("/api/")
    audit.record(
        actor=user,
        action=AuditEvent.Action.LOGIN,
        detail="API token issued" if on_the_api else "",
    )


@receiver(user_logged_out)
def audit_logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        on_the_api = request is not None and request.path.startswith("/api/")
        audit.record(
            actor=user,
            action=AuditEvent.Action.LOGOUT,
            detail="API token revoked" if on_the_api else "",
        )


@receiver(pre_save, sender=get_user_model())
def revoke_tokens(sender, instance, update_fields=None, **kwargs) -> None:
    """A new password or a deactivation ends the user's API token: whoever held it must sign in
    again (a login's `last_login` save is not a change of either)."""
    if instance.pk is None or (
        update_fields is not None and not {"password", "is_active"} & set(update_fields)
    ):
        return
    stored = sender.objects.filter(pk=instance.pk).values_list("password", "is_active").first()
    if stored is not None and (stored[0] != instance.password or not instance.is_active):
        Token.objects.filter(user_id=instance.pk).delete()


@receiver(user_login_failed)
def audit_login_failed(sender, credentials, request=None, **kwargs) -> None:
    username = str(credentials.get("username", ""))[:150]
    audit.record(actor=None, action=AuditEvent.Action.LOGIN_FAILED, actor_username=username)
