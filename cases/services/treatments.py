"""Writes to treatments and their dose regimens (a start, a change, an interruption, a stop)."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from advice.engine.case_input import json_number
from cases import audit, clinical
from cases.errors import StateConflict
from cases.models import (
    AuditEvent,
    DoseRegimen,
    Drug,
    Patient,
    Sample,
    Treatment,
)
from cases.services.due_dates import due_dates_refresh
from cases.services.samples import sample_recompute
from cases.services.validation import (
    add_error,
    beyond_planning_horizon,
    full_clean,
    raise_if,
    require_site_role,
)


def check_dose(
    errors: dict[str, list[str]],
    drug: Drug,
    daily_dose_mg: Decimal,
    administrations_per_day: int,
    off_label_reason: str,
) -> None:
    """A prescribed dose must be a catalogue level, given in whole tablets within the largest
    single dose, unless the prescriber confirmed it as off-label with a reason."""
    facts = drug.facts()
    if daily_dose_mg < 0:
        add_error(errors, "daily_dose_mg", "A daily dose cannot be negative.")
        return
    if not 1 <= administrations_per_day <= 4:
        add_error(errors, "administrations_per_day", "Give 1 to 4 administrations per day.")
        return
    if daily_dose_mg == 0 or off_label_reason:
        return
    if daily_dose_mg not in facts.dose_levels_mg:
        levels = ", ".join(format(v.normalize(), "f") for v in facts.dose_levels_mg)
        add_error(
            errors,
            "daily_dose_mg",
            f"{format(daily_dose_mg.normalize(), 'f')} mg/day is not a dose level of {facts.label} "
            f"({levels} mg/day); confirm it as off-label with a reason to use it.",
        )
        return
    split = clinical.split_daily_dose(drug, daily_dose_mg, administrations_per_day)
    if split.administrations_per_day != administrations_per_day:
        # A drug without a largest single dose changes administrations only because its
        # strengths cannot make the equal parts.
        strengths = ", ".join(format(v.normalize(), "f") for v in facts.strengths_mg)
        why = (
            f"exceeds the largest single dose of {facts.label} "
            f"({format(facts.max_single_dose_mg.normalize(), 'f')} mg)"
            if facts.max_single_dose_mg is not None
            else f"cannot be made in equal parts from the strengths of {facts.label} "
            f"({strengths} mg)"
        )
        add_error(
            errors,
            "administrations_per_day",
            f"{format(daily_dose_mg.normalize(), 'f')} mg/day in {administrations_per_day} "
            f"administration(s) {why}; give it in {split.administrations_per_day}.",
        )


@transaction.atomic
def treatment_create(
    *,
    actor: AbstractBaseUser | None,
    patient: Patient,
    drug: Drug,
    start_date: datetime.date,
    daily_dose_mg: Decimal,
    administrations_per_day: int,
    off_label_reason: str = "",
    overlap_reason: str = "",
) -> Treatment:
    """Register a patient's course of a drug with its starting regimen.

    A second course of the same drug that overlaps a live one is refused unless the reason it is
    intended is given: two live courses would make two dose histories for one drug.
    """
    require_site_role(actor, patient.site, "patient")
    # Serialise registrations for one patient: the overlap check reads their other treatments.
    Patient.objects.select_for_update().filter(pk=patient.pk).first()
    errors: dict[str, list[str]] = {}
    overlap_reason = overlap_reason.strip()
    overlapping = (
        Treatment.objects.filter(patient=patient, drug__name=drug.name)
        .exclude(stop_date__lte=start_date)
        .order_by("start_date")
        .first()
    )
    if overlapping is not None and not overlap_reason:
        add_error(
            errors,
            "overlap_reason",
            f"{patient.study_number} already takes {drug.name} since "
            f"{overlapping.start_date} (treatment {overlapping.pk}): stop it first, or say why "
            "both are intended.",
        )
    if daily_dose_mg <= 0:
        add_error(errors, "daily_dose_mg", "The starting daily dose must be above 0 mg.")
    else:
        check_dose(errors, drug, daily_dose_mg, administrations_per_day, off_label_reason)
    if start_date.year < patient.birth_year:
        add_error(errors, "start_date", "The treatment cannot start before the patient was born.")
    if too_far := beyond_planning_horizon(start_date, timezone.localdate()):
        add_error(errors, "start_date", too_far)
    raise_if(errors)
    treatment = Treatment.objects.create(
        patient=patient,
        drug=drug,
        start_date=start_date,
        overlap_reason=overlap_reason if overlapping is not None else "",
        created_by=actor,
    )
    audit.record(actor=actor, action=AuditEvent.Action.CREATE, instance=treatment)
    _regimen_insert(
        actor=actor,
        treatment=treatment,
        effective_from=start_date,
        daily_dose_mg=daily_dose_mg,
        administrations_per_day=administrations_per_day,
        reason=DoseRegimen.Reason.START,
        off_label_reason=off_label_reason,
    )
    due_dates_refresh(treatment)
    return treatment


def regimen_build(
    *,
    actor: AbstractBaseUser | None,
    treatment: Treatment,
    effective_from: datetime.date,
    daily_dose_mg: Decimal,
    administrations_per_day: int,
    reason: str,
    off_label_reason: str = "",
    status: str = DoseRegimen.Status.ACTIVE,
    status_reason: str = "",
) -> DoseRegimen:
    """The unsaved regimen a dose is stored as, split in tablets (also a cohort import's)."""
    split = clinical.split_daily_dose(treatment.drug, daily_dose_mg, administrations_per_day)
    return DoseRegimen(
        status=status,
        status_reason=status_reason,
        treatment=treatment,
        effective_from=effective_from,
        daily_dose_mg=daily_dose_mg,
        administrations_per_day=administrations_per_day,
        split_mg=[json_number(part) for part in split.parts_mg],
        reason=reason,
        off_label=bool(off_label_reason),
        off_label_reason=off_label_reason,
        created_by=actor,
    )


def _regimen_insert(
    *,
    actor: AbstractBaseUser | None,
    treatment: Treatment,
    effective_from: datetime.date,
    daily_dose_mg: Decimal,
    administrations_per_day: int,
    reason: str,
    off_label_reason: str = "",
    status: str = DoseRegimen.Status.ACTIVE,
    status_reason: str = "",
) -> DoseRegimen:
    regimen = regimen_build(
        actor=actor,
        treatment=treatment,
        effective_from=effective_from,
        daily_dose_mg=daily_dose_mg,
        administrations_per_day=administrations_per_day,
        reason=reason,
        off_label_reason=off_label_reason,
        status=status,
        status_reason=status_reason,
    )
    full_clean(regimen, exclude=["treatment"])
    try:
        with transaction.atomic():
            regimen.save()
    except IntegrityError:
        raise ValidationError(
            {"effective_from": ["The treatment already has a regimen from this date."]}
        ) from None
    audit.record(actor=actor, action=AuditEvent.Action.CREATE, instance=regimen)
    return regimen


@transaction.atomic
def dose_regimen_create(
    *,
    actor: AbstractBaseUser | None,
    treatment: Treatment,
    effective_from: datetime.date,
    daily_dose_mg: Decimal,
    administrations_per_day: int,
    reason: str,
    off_label_reason: str = "",
    withdraw_later_reason: str = "",
) -> DoseRegimen:
    """Prescribe a new daily dose from a date on (0 mg = interruption).

    With `withdraw_later_reason`, every live regimen taking effect on or after that date is
    withdrawn first with that reason, so that the new dose is not undone by one prescribed
    earlier for a later date (an accepted advice, docs/workflow.md §5)."""
    # Serialise dose changes of one treatment: the checks below read its whole history.
    treatment = (
        Treatment.objects.select_for_update()
        .select_related("drug", "patient__site")
        .get(pk=treatment.pk)
    )
    require_site_role(actor, treatment.patient.site, "treatment")
    history = treatment.live_regimens()
    errors: dict[str, list[str]] = {}
    if reason not in DoseRegimen.Reason.values:
        add_error(errors, "reason", f"Unknown reason {reason!r}.")
    elif reason == DoseRegimen.Reason.START:
        add_error(errors, "reason", "A treatment has one start regimen, created with it.")
    if too_far := beyond_planning_horizon(effective_from, timezone.localdate()):
        add_error(errors, "effective_from", too_far)
    if effective_from < treatment.start_date:
        add_error(errors, "effective_from", "The new dose cannot take effect before the start.")
    if treatment.stop_date is not None and effective_from >= treatment.stop_date:
        add_error(errors, "effective_from", "The treatment is stopped from that date.")
    if not withdraw_later_reason and any(r.effective_from == effective_from for r in history):
        add_error(errors, "effective_from", "The treatment already has a regimen from this date.")
    if (daily_dose_mg == 0) != (reason == DoseRegimen.Reason.INTERRUPTION):
        add_error(errors, "reason", "A dose of 0 mg/day is an interruption, and only that.")
    check_dose(errors, treatment.drug, daily_dose_mg, administrations_per_day, off_label_reason)
    raise_if(errors)
    if withdraw_later_reason:
        _withdraw_from(
            actor=actor,
            treatment=treatment,
            first_day=effective_from,
            reason=withdraw_later_reason,
        )
    regimen = _regimen_insert(
        actor=actor,
        treatment=treatment,
        effective_from=effective_from,
        daily_dose_mg=daily_dose_mg,
        administrations_per_day=administrations_per_day,
        reason=reason,
        off_label_reason=off_label_reason,
    )
    due_dates_refresh(treatment)
    return regimen


@transaction.atomic
def treatment_stop(
    *, actor: AbstractBaseUser | None, treatment: Treatment, stop_date: datetime.date, reason: str
) -> Treatment:
    treatment = Treatment.objects.select_for_update().get(pk=treatment.pk)
    require_site_role(actor, treatment.patient.site, "treatment")
    errors: dict[str, list[str]] = {}
    if treatment.stop_date is not None:
        add_error(errors, "stop_date", f"The treatment already stopped on {treatment.stop_date}.")
    if stop_date < treatment.start_date:
        add_error(errors, "stop_date", "A treatment cannot stop before it started.")
    if not reason.strip():
        add_error(errors, "stop_reason", "Say why the treatment stops.")
    raise_if(errors)
    before = audit.snapshot(treatment)
    Treatment.objects.filter(pk=treatment.pk).update(
        stop_date=stop_date, stop_reason=reason.strip(), updated_at=timezone.now()
    )
    treatment.refresh_from_db()
    audit.record(actor=actor, action=AuditEvent.Action.UPDATE, instance=treatment, before=before)
    _withdraw_from(
        actor=actor,
        treatment=treatment,
        first_day=stop_date,
        reason=f"treatment stopped on {stop_date.isoformat()}",
    )
    due_dates_refresh(treatment)
    return treatment


def _require_permission(actor: AbstractBaseUser | None, permission: str, message: str) -> None:
    if actor is not None and not actor.has_perm(permission):
        raise PermissionDenied(message)


def _set_status(
    *, actor: AbstractBaseUser | None, regimen: DoseRegimen, status: str, reason: str
) -> DoseRegimen:
    before = audit.snapshot(regimen)
    regimen.status = status
    regimen.status_reason = reason
    regimen.status_changed_by = actor
    regimen.status_changed_at = timezone.now()
    regimen.save(
        update_fields=["status", "status_reason", "status_changed_by", "status_changed_at"]
    )
    audit.record(
        actor=actor,
        actor_username="" if actor is not None else "system",
        action=AuditEvent.Action.UPDATE,
        instance=regimen,
        before=before,
        detail=f"regimen {status.replace('_', ' ')}: {reason}",
    )
    return regimen


def _locked_regimen(regimen: DoseRegimen, actor: AbstractBaseUser | None) -> DoseRegimen:
    # Lock the treatment first, as every dose change does, so the two cannot interleave.
    Treatment.objects.select_for_update().filter(pk=regimen.treatment_id).first()
    regimen = (
        DoseRegimen.objects.select_for_update(of=("self",))
        .select_related("treatment__drug", "treatment__patient__site")
        .get(pk=regimen.pk)
    )
    require_site_role(actor, regimen.treatment.patient.site, "regimen")
    if regimen.status != DoseRegimen.Status.ACTIVE:
        raise StateConflict(
            f"The regimen is already {regimen.status.replace('_', ' ')}: {regimen.status_reason}"
        )
    return regimen


def _reason_given(reason: str) -> str:
    if not reason or not reason.strip():
        raise ValidationError({"reason": ["Give the reason."]})
    return reason.strip()[:200]


@transaction.atomic
def dose_regimen_withdraw(
    *,
    actor: AbstractBaseUser | None,
    regimen: DoseRegimen,
    reason: str,
    today: datetime.date | None = None,
) -> DoseRegimen:
    """Withdraw a regimen that has not taken effect yet: it stays on record, struck through, and
    counts for nothing. One already in effect is corrected by `dose_regimen_mark_in_error`."""
    _require_permission(
        actor, "cases.withdraw_doseregimen", "Only a physician or pharmacist withdraws a dose."
    )
    today = today or timezone.localdate()
    reason = _reason_given(reason)
    regimen = _locked_regimen(regimen, actor)
    if regimen.effective_from <= today:
        raise StateConflict(
            f"The regimen is in effect since {regimen.effective_from}: a physician marks it "
            "entered in error instead."
        )
    _set_status(actor=actor, regimen=regimen, status=DoseRegimen.Status.WITHDRAWN, reason=reason)
    due_dates_refresh(regimen.treatment)
    return regimen


@transaction.atomic
def dose_regimen_mark_in_error(
    *,
    actor: AbstractBaseUser | None,
    regimen: DoseRegimen,
    reason: str,
    today: datetime.date | None = None,
) -> DoseRegimen:
    """Mark a regimen already in effect as entered in error: the dose history is read as if it
    had never been prescribed, and the samples drawn under it are computed again."""
    _require_permission(
        actor, "cases.mark_doseregimen_in_error", "Only a physician corrects the dose history."
    )
    today = today or timezone.localdate()
    reason = _reason_given(reason)
    regimen = _locked_regimen(regimen, actor)
    if regimen.effective_from > today:
        raise StateConflict(
            f"The regimen takes effect on {regimen.effective_from}: withdraw it instead."
        )
    treatment = regimen.treatment
    if regimen.reason == DoseRegimen.Reason.START:
        raise ValidationError(
            {
                "regimen": [
                    "The start regimen is the treatment itself: stop the treatment with the "
                    "reason and register it again with the right dose."
                ]
            }
        )
    _set_status(
        actor=actor, regimen=regimen, status=DoseRegimen.Status.ENTERED_IN_ERROR, reason=reason
    )
    # Not only the samples drawn under it: a later one may now follow the same daily dose, which
    # moves the last dose change of every sample after it (the way to steady state).
    # `sample_recompute` leaves a sample whose values stay the same as it is.
    affected = treatment.samples.filter(
        status__in=(Sample.Status.DRAWN, Sample.Status.RESULTED),
        drawn_at__date__gte=regimen.effective_from,
    )
    for sample in affected.select_for_update():
        sample_recompute(actor=actor, sample=sample, reason=f"dose history corrected: {reason}")
    due_dates_refresh(treatment)
    return regimen


def dose_regimens_withdraw_from(
    *,
    actor: AbstractBaseUser | None,
    treatment: Treatment,
    first_day: datetime.date,
    reason: str,
) -> list[DoseRegimen]:
    """Withdraw, in the caller's transaction, every live regimen of the treatment that takes
    effect on or after `first_day`: an interruption, a reduction or a stop must not be undone by
    a change accepted earlier for a later date. The due dates are stored again when any was."""
    pending = _withdraw_from(actor=actor, treatment=treatment, first_day=first_day, reason=reason)
    if pending:
        due_dates_refresh(treatment)
    return pending


def _withdraw_from(
    *,
    actor: AbstractBaseUser | None,
    treatment: Treatment,
    first_day: datetime.date,
    reason: str,
) -> list[DoseRegimen]:
    """`dose_regimens_withdraw_from` for a caller that stores the due dates itself afterwards
    (a stop, a new dose), so that one write stores them once."""
    pending = list(
        DoseRegimen.objects.select_for_update()
        .filter(
            treatment=treatment, status=DoseRegimen.Status.ACTIVE, effective_from__gte=first_day
        )
        .order_by("effective_from")
    )
    for regimen in pending:
        _set_status(
            actor=actor, regimen=regimen, status=DoseRegimen.Status.WITHDRAWN, reason=reason[:200]
        )
    return pending
