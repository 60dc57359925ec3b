"""Writes to adverse events: logging and resolving."""

from __future__ import annotations

import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from advice.engine import ctcae, toxicity
from cases import audit, signals
from cases.models import (
    AdverseEvent,
    AuditEvent,
    Treatment,
)
from cases.services.validation import (
    add_error,
    raise_if,
    require_site_role,
)


@transaction.atomic
def adverse_event_record(
    *,
    actor: AbstractBaseUser | None,
    treatment: Treatment,
    term: str,
    grade: int,
    onset: datetime.date,
    resolved: datetime.date | None = None,
    related: bool = True,
    action: str = AdverseEvent.Action.NONE,
    other_specify: str = "",
    today: datetime.date | None = None,
) -> AdverseEvent:
    """Log a CTCAE-graded adverse event; its occurrence number counts the term in the treatment."""
    today = today or timezone.localdate()
    # Lock the treatment so two AEs of the same term logged at once get different occurrences.
    treatment = (
        Treatment.objects.select_for_update().select_related("patient__site").get(pk=treatment.pk)
    )
    require_site_role(actor, treatment.patient.site, "treatment")
    errors: dict[str, list[str]] = {}
    ctcae_term = ctcae.find_term(term)
    if ctcae_term is None:
        add_error(errors, "term", f"{term!r} is not a CTCAE v5.0 term.")
    else:
        if grade not in ctcae.allowed_grades(ctcae_term):
            defined = ", ".join(str(g) for g in ctcae.allowed_grades(ctcae_term))
            add_error(errors, "grade", f"{ctcae_term.term} has grades {defined} only.")
        if ctcae_term.is_other_specify and not other_specify.strip():
            add_error(errors, "other_specify", "Describe the event for an 'Other, specify' term.")
        if not ctcae_term.is_other_specify and other_specify.strip():
            add_error(errors, "other_specify", "Free text is only for an 'Other, specify' term.")
    if not 1 <= grade <= 5:
        errors["grade"] = ["The CTCAE grade is 1 to 5."]
    if onset > today:
        add_error(errors, "onset", "The onset date is in the future.")
    if onset < treatment.start_date:
        add_error(errors, "onset", f"Onset before the treatment started ({treatment.start_date}).")
    if resolved is not None:
        if resolved < onset:
            add_error(errors, "resolved", "An event cannot resolve before its onset.")
        if resolved > today:
            add_error(errors, "resolved", "The resolution date is in the future.")
    if action not in AdverseEvent.Action.values:
        add_error(errors, "action", f"Unknown action {action!r}.")
    raise_if(errors)
    assert ctcae_term is not None  # noqa: S101 - no errors means the term was found
    earlier = treatment.adverse_events.filter(entered_in_error=False).values_list("term", "onset")
    occurrence = toxicity.occurrence_number(ctcae_term.term, onset, earlier)
    event = AdverseEvent.objects.create(
        treatment=treatment,
        term=ctcae_term.term,
        meddra_code=ctcae_term.meddra_code,
        other_specify=other_specify.strip(),
        grade=grade,
        onset=onset,
        resolved=resolved,
        related=related,
        action=action,
        occurrence=occurrence,
        created_by=actor,
    )
    audit.record(actor=actor, action=AuditEvent.Action.CREATE, instance=event)
    signals.adverse_event_recorded.send(sender=AdverseEvent, event=event)
    return event


@transaction.atomic
def adverse_event_resolve(
    *,
    actor: AbstractBaseUser,
    event: AdverseEvent,
    resolved: datetime.date,
    today: datetime.date | None = None,
) -> AdverseEvent:
    today = today or timezone.localdate()
    event = AdverseEvent.objects.select_for_update().get(pk=event.pk)
    require_site_role(actor, event.treatment.patient.site, "adverse_event")
    errors: dict[str, list[str]] = {}
    if resolved < event.onset:
        add_error(errors, "resolved", "An event cannot resolve before its onset.")
    if resolved > today:
        add_error(errors, "resolved", "The resolution date is in the future.")
    raise_if(errors)
    before = audit.snapshot(event)
    event.resolved = resolved
    event.save(update_fields=["resolved", "updated_at"])
    audit.record(actor=actor, action=AuditEvent.Action.UPDATE, instance=event, before=before)
    return event
