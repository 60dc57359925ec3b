"""Writes to the drug catalogue: every change a new version."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from cases import audit
from cases.models import (
    AuditEvent,
    Drug,
    DrugVersion,
)


@transaction.atomic
def drug_save(
    *, actor: AbstractBaseUser | None, drug: Drug, change_source: str
) -> tuple[Drug, bool]:
    """Store a catalogue row (new or edited) and keep a version when anything changed.

    Returns the drug and whether a version was written; saving an unchanged row is a no-op,
    which is what makes `load_drugs` idempotent.
    """
    try:
        drug.facts()
    except ValueError as error:
        raise ValidationError(str(error)) from None
    row = drug.as_row()
    before = None
    if drug.pk is None:
        drug.version = 1
    else:
        stored = Drug.objects.select_for_update().get(pk=drug.pk)
        if stored.as_row() == row:
            return stored, False
        before = audit.snapshot(stored)
        drug.version = stored.version + 1
    drug.save()
    DrugVersion.objects.create(
        drug=drug, version=drug.version, row=row, changed_by=actor, change_source=change_source
    )
    audit.record(
        actor=actor,
        action=AuditEvent.Action.UPDATE if before else AuditEvent.Action.CREATE,
        instance=drug,
        before=before,
        detail=f"catalogue version {drug.version} ({change_source})",
    )
    return drug, True
