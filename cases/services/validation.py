"""What every service shares: collecting field errors, and who may write at a site."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError

from cases import access
from cases.models import (
    Site,
)

# A clock a few minutes fast on a ward PC must not make a sample drawn "now" look like the future.
CLOCK_SKEW = datetime.timedelta(minutes=5)
# Doses are planned at most a year ahead: a date further away is a typing error (9999 for 2025),
# and would sit in the dose history as the treatment's future.
PLANNING_HORIZON = datetime.timedelta(days=365)


def normalised_identifier(value: str) -> str:
    """A study or record number as stored: without surrounding spaces, in capitals, so that
    `tdm-0001` and ` TDM-0001 ` are the patient `TDM-0001` and cannot be registered twice."""
    return value.strip().upper()


def beyond_planning_horizon(day: datetime.date, today: datetime.date) -> str | None:
    """The error for a planned date more than a year ahead, or None."""
    latest = today + PLANNING_HORIZON
    if day > latest:
        return f"Plan at most a year ahead: {latest.isoformat()} at the latest, not {day}."
    return None


def raise_if(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationError(errors)


def add_error(errors: dict[str, list[str]], field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def full_clean(instance: Any, *, exclude: list[str] | None = None) -> None:
    try:
        instance.full_clean(exclude=exclude)
    except ValidationError as error:
        raise ValidationError(error.message_dict) from None


def require_site_role(actor: AbstractBaseUser | None, site: Site, field: str = "site") -> None:
    """The actor must work at the site; `None` is the system itself (import, seed, tasks)."""
    if actor is None:
        return
    if not actor.is_superuser and not access.works_at(actor, site.pk):
        # Same words as for a site that does not exist: do not reveal other sites' records.
        raise ValidationError({field: [f"Unknown site {site.code!r} for this user."]})


def staff_member(site: Site, user: AbstractBaseUser | None, role: str, field: str) -> None:
    if user is None:
        return
    if role not in access.user_roles(user) or site.pk not in access.member_site_ids(user):
        raise ValidationError({field: [f"{user.get_username()} is not a {role} at {site.code}."]})
