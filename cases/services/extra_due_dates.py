"""Asking for an extra sample of a treatment on a date (docs/sampling-schedule.md §12).

An extra due date stands beside the protocol's dates: it replaces none and none replaces it, it
is fulfilled like them and reminded of like them. It is asked for a day that can still be due:
from today on, while the treatment runs and is not interrupted as far as is known, within the
planning year.
"""

from __future__ import annotations

import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from cases import audit, clinical, regimens
from cases.models import AuditEvent, ExtraDueDate, Treatment
from cases.services.due_dates import due_dates_refresh
from cases.services.validation import (
    add_error,
    beyond_planning_horizon,
    full_clean,
    raise_if,
    require_site_role,
)

KIND_WORDS = {"regular": "regular", "post_change": "post-change"}


@transaction.atomic
def extra_due_date_create(
    *,
    actor: AbstractBaseUser | None,
    treatment: Treatment,
    date: datetime.date,
    reason: str,
    today: datetime.date | None = None,
) -> ExtraDueDate:
    """Ask for an unscheduled sample on `date` (e.g. after "reject: re-sample in 2 weeks").

    A nurse, pharmacist or physician of the treatment's site; errors name `date` or `reason`.
    """
    if actor is not None and not actor.has_perm("cases.add_extraduedate"):
        raise PermissionDenied("Only a nurse, pharmacist or physician asks for an extra sample.")
    # Serialise with dose changes and stops: the checks below read the dose history.
    treatment = (
        Treatment.objects.select_for_update(of=("self",))
        .select_related("patient__site", "drug")
        .get(pk=treatment.pk)
    )
    require_site_role(actor, treatment.patient.site, "treatment")
    today = today or timezone.localdate()
    reason = reason.strip()
    errors: dict[str, list[str]] = {}
    if not reason:
        add_error(errors, "reason", "Say why the extra sample is needed.")
    if problem := _date_problem(treatment, date, today):
        add_error(errors, "date", problem)
    raise_if(errors)
    extra = ExtraDueDate(treatment=treatment, date=date, reason=reason, created_by=actor)
    full_clean(extra, exclude=["treatment"])
    try:
        with transaction.atomic():
            extra.save()
    except IntegrityError:
        raise ValidationError(
            {"date": [f"An extra sample is already asked for on {date.isoformat()}."]}
        ) from None
    audit.record(actor=actor, action=AuditEvent.Action.CREATE, instance=extra)
    due_dates_refresh(treatment)
    return extra


def _date_problem(treatment: Treatment, date: datetime.date, today: datetime.date) -> str | None:
    """Why no extra sample can be due on `date`, or None."""
    if date < today:
        return f"Ask for today ({today.isoformat()}) or a later day."
    if date < treatment.start_date:
        return f"The treatment starts on {treatment.start_date.isoformat()}."
    if too_far := beyond_planning_horizon(date, today):
        return too_far
    status = regimens.status_on(date, treatment.dose_history(), treatment.stop_date)
    if status == Treatment.Status.STOPPED:
        return f"The treatment stops on {treatment.stop_date.isoformat()}: nothing is due then."
    if status == Treatment.Status.INTERRUPTED:
        return "The treatment is interrupted on that day: a sample then says nothing of the dose."
    if treatment.extra_due_dates.filter(date=date).exists():
        return f"An extra sample is already asked for on {date.isoformat()}."
    for due in clinical.due_dates(treatment, until=date):
        if due.date == date:
            return (
                f"A {KIND_WORDS[due.kind]} sample is already due on {date.isoformat()}; choose "
                "another day if a further sample is needed."
            )
    return None
