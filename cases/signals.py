"""The hook between the clinical records and the apps that act on them.

`cases` knows nothing of advice, reports or notifications. Where a write to the records must
start work elsewhere, its service sends one of the signals below inside its transaction; the
receivers are connected in the receiving app's `AppConfig.ready` (docs/architecture.md). A
receiver that writes does so in the same transaction, so an error rolls the whole write back;
one that queues background work does so on commit.

Logins, logouts and failed logins go into the audit trail here as well.
"""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import Signal, receiver

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
        audit.record(actor=user, action=AuditEvent.Action.LOGOUT)


@receiver(user_login_failed)
def audit_login_failed(sender, credentials, request=None, **kwargs) -> None:
    username = str(credentials.get("username", ""))[:150]
    audit.record(actor=None, action=AuditEvent.Action.LOGIN_FAILED, actor_username=username)
