"""The electronic signature of a decision on advice (21 CFR Part 11 §11.200, §11.300(d);
docs/workflow.md §3): the signer's password, every failure audited, signing locked after
repeated failures until an administrator unlocks it.

A failure is recorded in a transaction of its own: the step it would have signed is undone,
the record of the attempt is not.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from advice import signals
from advice.models import Advice, SigningLock
from cases import audit
from cases.models import AuditEvent

FAILURES_TO_LOCK = 5
FAILURE_WINDOW = datetime.timedelta(minutes=15)
WRONG_SIGNATURE = "The password is not correct."
LOCKED = (
    "Signing is locked after 5 wrong passwords in 15 minutes. An administrator has been told "
    "and can unlock it."
)

Service = TypeVar("Service", bound=Callable[..., Advice])


class SignatureRefused(Exception):
    """The signature was not given: `reason` is what the signer is told."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check(actor: AbstractBaseUser, password: str) -> None:
    """Inside the signing step: refuse a signature while signing is locked, or with a wrong
    password."""
    if open_locks().filter(user=actor).exists():
        raise SignatureRefused(LOCKED)
    if not password or not actor.check_password(password):
        raise SignatureRefused(WRONG_SIGNATURE)


def signed(service: Service) -> Service:
    """A signing step (`advice_accept`, `advice_reject`) whose refused signature is audited
    after the step was undone, and answered as an error on the password."""

    @functools.wraps(service)
    def step(*, actor: AbstractBaseUser, advice: Advice, **arguments: Any) -> Advice:
        try:
            return service(actor=actor, advice=advice, **arguments)
        except SignatureRefused as refused:
            _failed(actor, advice, refused.reason)
            raise ValidationError({"password": [refused.reason]}) from None

    return step  # type: ignore[return-value]


def open_locks() -> QuerySet[SigningLock]:
    return SigningLock.objects.filter(unlocked_at__isnull=True)


def clock() -> datetime.datetime:
    return timezone.now()


@transaction.atomic
def _failed(actor: AbstractBaseUser, advice: Advice, reason: str) -> None:
    """Audit the failed signature; the fifth within the window since the last unlock locks
    signing and tells the administrators. The signer's row is locked first, so concurrent
    failures are counted one after the other."""
    get_user_model().objects.select_for_update().filter(pk=actor.pk).first()
    audit.record(
        actor=actor,
        action=AuditEvent.Action.SIGN_FAILED,
        instance=advice,
        after={},
        detail=reason,
    )
    if open_locks().filter(user=actor).exists():
        return
    since = clock() - FAILURE_WINDOW
    last_unlock = (
        SigningLock.objects.filter(user=actor, unlocked_at__isnull=False)
        .order_by("-unlocked_at")
        .values_list("unlocked_at", flat=True)
        .first()
    )
    if last_unlock is not None:
        since = max(since, last_unlock)
    failures = AuditEvent.objects.filter(
        actor=actor, action=AuditEvent.Action.SIGN_FAILED, at__gt=since
    ).count()
    if failures >= FAILURES_TO_LOCK:
        lock = SigningLock.objects.create(user=actor)
        audit.record(
            actor=actor,
            action=AuditEvent.Action.UPDATE,
            instance=lock,
            detail=f"signing locked after {failures} wrong passwords in 15 minutes",
        )
        signals.signing_locked.send(sender=SigningLock, lock=lock, advice=advice)


@transaction.atomic
def unlock(*, actor: AbstractBaseUser, locks: QuerySet[SigningLock]) -> int:
    """An administrator unlocks signing: failures before now no longer count."""
    now = clock()
    unlocked = 0
    for lock in open_locks().select_for_update().filter(pk__in=locks.values("pk")):
        before = audit.snapshot(lock)
        lock.unlocked_at, lock.unlocked_by = now, actor
        lock.save(update_fields=["unlocked_at", "unlocked_by"])
        audit.record(
            actor=actor, action=AuditEvent.Action.UPDATE, instance=lock, before=before,
            detail="signing unlocked",
        )  # fmt: skip
        unlocked += 1
    return unlocked
