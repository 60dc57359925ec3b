"""Writing the audit trail: one call per change, inside the transaction that makes it."""

from __future__ import annotations

import datetime
import decimal
from typing import Any

from django.db import models
from django.db.models.fields.files import FieldFile

from cases.models import AuditEvent, Site

# Identifying fields are kept out of audit snapshots: the trail is read by data managers and
# admins, who see patients pseudonymised.
IDENTIFYING_FIELDS = frozenset({"name", "record_number"})


def _json_value(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, FieldFile):
        return value.name or None
    return value


def snapshot(instance: models.Model) -> dict[str, Any]:
    """The record's concrete fields as JSON values (foreign keys as ids), identity masked."""
    values = {}
    for field in instance._meta.concrete_fields:
        key = field.attname
        if field.name in IDENTIFYING_FIELDS:
            values[field.name] = "(set)" if getattr(instance, key) else ""
            continue
        values[key] = _json_value(getattr(instance, key))
    return values


def site_of(instance: models.Model) -> Site | None:
    lookup = getattr(type(instance), "site_lookup", None)
    if lookup is None:
        return instance if isinstance(instance, Site) else None
    target: Any = instance
    for part in lookup.split("__"):
        target = getattr(target, part)
    return target


def record(**fields: Any) -> AuditEvent:
    """Append one audit event (the fields of `event_columns`); `after` defaults to a snapshot
    of the instance."""
    return AuditEvent.objects.create(**event_columns(**fields))


def event_columns(
    *,
    actor: Any,
    action: str,
    instance: models.Model | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    site: Site | None = None,
    detail: str = "",
    actor_username: str = "",
) -> dict[str, Any]:
    """The columns of the event `record` appends, by attname (for a writer that inserts many
    events at once, e.g. a cohort import)."""
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    if instance is not None and after is None and action != AuditEvent.Action.CANCEL:
        after = snapshot(instance)
    if site is None and instance is not None:
        site = site_of(instance)
    return {
        "actor_id": actor.pk if authenticated else None,
        "actor_username": actor.get_username() if authenticated else actor_username,
        "action": action,
        "model": instance._meta.label_lower if instance is not None else "",
        "object_id": str(instance.pk) if instance is not None else "",
        "object_repr": str(instance)[:200] if instance is not None else "",
        "site_id": site.pk if site is not None else None,
        "before": before,
        "after": after,
        "detail": detail[:300],
    }
