"""Every write to clinical data goes through a function here (SPEC §2, STYLE "services").

Each service runs in one transaction, validates the whole request before it writes anything
(errors name the field: `ValidationError({field: [message]})`), locks what it changes, and
writes its audit event in the same transaction. Views, the API, the admin, commands and tasks
call these; none of them writes clinical rows itself.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from advice.engine import ctcae, rules
from advice.engine.case_input import json_number
from cases import access, audit, clinical, roles
from cases.dispatch import after_commit
from cases.errors import StateConflict
from cases.models import (
    AdverseEvent,
    Advice,
    AuditEvent,
    DoseRegimen,
    Drug,
    DrugVersion,
    Patient,
    Sample,
    Site,
    Treatment,
)

# A clock a few minutes fast on a ward PC must not make a sample drawn "now" look like the future.
CLOCK_SKEW = datetime.timedelta(minutes=5)


def _raise_if(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationError(errors)


def _add(errors: dict[str, list[str]], field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _full_clean(instance: Any, *, exclude: list[str] | None = None) -> None:
    try:
        instance.full_clean(exclude=exclude)
    except ValidationError as error:
        raise ValidationError(error.message_dict) from None


def _require_site_role(actor: AbstractBaseUser | None, site: Site, field: str = "site") -> None:
    """The actor must work at the site; `None` is the system itself (import, seed, tasks)."""
    if actor is None:
        return
    if not actor.is_superuser and not access.works_at(actor, site.pk):
        # Same words as for a site that does not exist: do not reveal other sites' records.
        raise ValidationError({field: [f"Unknown site {site.code!r} for this user."]})


def _staff_member(site: Site, user: AbstractBaseUser | None, role: str, field: str) -> None:
    if user is None:
        return
    if role not in access.user_roles(user) or site.pk not in access.member_site_ids(user):
        raise ValidationError({field: [f"{user.get_username()} is not a {role} at {site.code}."]})


# Patients ---------------------------------------------------------------------------------------


@transaction.atomic
def patient_create(
    *,
    actor: AbstractBaseUser | None,
    site: Site,
    study_number: str,
    sex: str,
    birth_year: int,
    tumour: str,
    tumour_code: str = "",
    name: str = "",
    record_number: str = "",
    treating_physician: AbstractBaseUser | None = None,
    responsible_nurse: AbstractBaseUser | None = None,
    today: datetime.date | None = None,
) -> Patient:
    today = today or timezone.localdate()
    _require_site_role(actor, site)
    _staff_member(site, treating_physician, roles.PHYSICIAN, "treating_physician")
    _staff_member(site, responsible_nurse, roles.NURSE, "responsible_nurse")
    patient = Patient(
        site=site,
        study_number=study_number.strip(),
        sex=sex,
        birth_year=birth_year,
        tumour=tumour.strip(),
        tumour_code=tumour_code.strip(),
        name=name.strip(),
        record_number=record_number.strip(),
        treating_physician=treating_physician,
        responsible_nurse=responsible_nurse,
    )
    errors: dict[str, list[str]] = {}
    if birth_year > today.year:
        _add(errors, "birth_year", f"Birth year {birth_year} is in the future.")
    _raise_if(errors)
    _full_clean(patient)
    try:
        with transaction.atomic():
            patient.save()
    except IntegrityError:
        # Lost a race with another registration of the same study number.
        raise ValidationError(
            {"study_number": ["Patient with this study number already exists."]}
        ) from None
    audit.record(actor=actor, action=AuditEvent.Action.CREATE, instance=patient)
    return patient


# Treatments and dose regimens -------------------------------------------------------------------


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
        _add(errors, "daily_dose_mg", "A daily dose cannot be negative.")
        return
    if not 1 <= administrations_per_day <= 4:
        _add(errors, "administrations_per_day", "Give 1 to 4 administrations per day.")
        return
    if daily_dose_mg == 0 or off_label_reason:
        return
    if daily_dose_mg not in facts.dose_levels_mg:
        levels = ", ".join(format(v.normalize(), "f") for v in facts.dose_levels_mg)
        _add(
            errors,
            "daily_dose_mg",
            f"{format(daily_dose_mg.normalize(), 'f')} mg/day is not a dose level of {facts.label} "
            f"({levels} mg/day); confirm it as off-label with a reason to use it.",
        )
        return
    split = clinical.split_daily_dose(drug, daily_dose_mg, administrations_per_day)
    if split.administrations_per_day != administrations_per_day:
        _add(
            errors,
            "administrations_per_day",
            f"{format(daily_dose_mg.normalize(), 'f')} mg/day in {administrations_per_day} "
            f"administration(s) exceeds the largest single dose of {facts.label} "
            f"({format(facts.max_single_dose_mg.normalize(), 'f')} mg); "
            f"give it in {split.administrations_per_day}.",
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
) -> Treatment:
    """Register a patient's course of a drug with its starting regimen."""
    _require_site_role(actor, patient.site, "patient")
    errors: dict[str, list[str]] = {}
    if daily_dose_mg <= 0:
        _add(errors, "daily_dose_mg", "The starting daily dose must be above 0 mg.")
    else:
        check_dose(errors, drug, daily_dose_mg, administrations_per_day, off_label_reason)
    if start_date.year < patient.birth_year:
        _add(errors, "start_date", "The treatment cannot start before the patient was born.")
    _raise_if(errors)
    treatment = Treatment.objects.create(
        patient=patient, drug=drug, start_date=start_date, created_by=actor
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
    return treatment


def _regimen_insert(
    *,
    actor: AbstractBaseUser | None,
    treatment: Treatment,
    effective_from: datetime.date,
    daily_dose_mg: Decimal,
    administrations_per_day: int,
    reason: str,
    advice: Any = None,
    off_label_reason: str = "",
) -> DoseRegimen:
    split = clinical.split_daily_dose(treatment.drug, daily_dose_mg, administrations_per_day)
    regimen = DoseRegimen(
        treatment=treatment,
        effective_from=effective_from,
        daily_dose_mg=daily_dose_mg,
        administrations_per_day=administrations_per_day,
        split_mg=[json_number(part) for part in split.parts_mg],
        reason=reason,
        advice=advice,
        off_label=bool(off_label_reason),
        off_label_reason=off_label_reason,
        created_by=actor,
    )
    _full_clean(regimen, exclude=["treatment", "advice"])
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
    advice: Any = None,
    off_label_reason: str = "",
) -> DoseRegimen:
    """Prescribe a new daily dose from a date on (0 mg = interruption)."""
    # Serialise dose changes of one treatment: the checks below read its whole history.
    treatment = (
        Treatment.objects.select_for_update()
        .select_related("drug", "patient__site")
        .get(pk=treatment.pk)
    )
    _require_site_role(actor, treatment.patient.site, "treatment")
    history = list(treatment.regimens.order_by("effective_from"))
    errors: dict[str, list[str]] = {}
    if reason not in DoseRegimen.Reason.values:
        _add(errors, "reason", f"Unknown reason {reason!r}.")
    elif reason == DoseRegimen.Reason.START:
        _add(errors, "reason", "A treatment has one start regimen, created with it.")
    if effective_from < treatment.start_date:
        _add(errors, "effective_from", "The new dose cannot take effect before the start.")
    if treatment.stop_date is not None and effective_from >= treatment.stop_date:
        _add(errors, "effective_from", "The treatment is stopped from that date.")
    if any(r.effective_from == effective_from for r in history):
        _add(errors, "effective_from", "The treatment already has a regimen from this date.")
    if (daily_dose_mg == 0) != (reason == DoseRegimen.Reason.INTERRUPTION):
        _add(errors, "reason", "A dose of 0 mg/day is an interruption, and only that.")
    check_dose(errors, treatment.drug, daily_dose_mg, administrations_per_day, off_label_reason)
    _raise_if(errors)
    return _regimen_insert(
        actor=actor,
        treatment=treatment,
        effective_from=effective_from,
        daily_dose_mg=daily_dose_mg,
        administrations_per_day=administrations_per_day,
        reason=reason,
        advice=advice,
        off_label_reason=off_label_reason,
    )


@transaction.atomic
def treatment_stop(
    *, actor: AbstractBaseUser | None, treatment: Treatment, stop_date: datetime.date, reason: str
) -> Treatment:
    treatment = Treatment.objects.select_for_update().get(pk=treatment.pk)
    _require_site_role(actor, treatment.patient.site, "treatment")
    errors: dict[str, list[str]] = {}
    if treatment.stop_date is not None:
        _add(errors, "stop_date", f"The treatment already stopped on {treatment.stop_date}.")
    if stop_date < treatment.start_date:
        _add(errors, "stop_date", "A treatment cannot stop before it started.")
    if not reason.strip():
        _add(errors, "stop_reason", "Say why the treatment stops.")
    _raise_if(errors)
    before = audit.snapshot(treatment)
    Treatment.objects.filter(pk=treatment.pk).update(
        stop_date=stop_date, stop_reason=reason.strip(), updated_at=timezone.now()
    )
    treatment.refresh_from_db()
    audit.record(actor=actor, action=AuditEvent.Action.UPDATE, instance=treatment, before=before)
    return treatment


# Samples ----------------------------------------------------------------------------------------


def _check_result(
    errors: dict[str, list[str]],
    concentration: Decimal | None,
    unit: str,
    below_lloq: bool,
) -> None:
    if concentration is not None and concentration < 0:
        _add(errors, "concentration", "A concentration cannot be negative.")
    elif concentration == 0 and not below_lloq:
        _add(
            errors,
            "concentration",
            "A result of 0 is only possible as 'below the limit of quantification'.",
        )
    if unit not in Sample.Unit.values:
        _add(errors, "unit", f"Unknown unit {unit!r}; use one of {', '.join(Sample.Unit.values)}.")


def sample_build(
    *,
    actor: AbstractBaseUser | None,
    treatment: Treatment,
    drawn_at: datetime.datetime,
    last_dose_at: datetime.datetime | None,
    concentration: Decimal | None,
    unit: str = Sample.Unit.NG_ML,
    below_lloq: bool = False,
    lab_accession: str = "",
    analytes: dict[str, Decimal] | None = None,
    now: datetime.datetime | None = None,
) -> Sample:
    """A validated, computed, unsaved sample: what `sample_record` would store (and what the
    sample form previews). Raises ValidationError naming the fields."""
    now = now or timezone.now()
    treatment = Treatment.objects.select_related("drug", "patient__site").get(pk=treatment.pk)
    _require_site_role(actor, treatment.patient.site, "treatment")
    errors: dict[str, list[str]] = {}
    if timezone.is_naive(drawn_at):
        _add(errors, "drawn_at", "Give the time zone (e.g. 2024-03-01T09:10:00+01:00).")
    elif drawn_at > now + CLOCK_SKEW:
        _add(errors, "drawn_at", "The draw time is in the future.")
    elif timezone.localdate(drawn_at) < treatment.start_date:
        _add(errors, "drawn_at", f"Drawn before the treatment started ({treatment.start_date}).")
    elif treatment.stop_date is not None and timezone.localdate(drawn_at) > treatment.stop_date:
        _add(errors, "drawn_at", f"Drawn after the treatment stopped ({treatment.stop_date}).")
    if last_dose_at is not None:
        if timezone.is_naive(last_dose_at):
            _add(errors, "last_dose_at", "Give the time zone (e.g. 2024-03-01T21:00:00+01:00).")
        elif "drawn_at" not in errors and last_dose_at > drawn_at:
            _add(errors, "last_dose_at", "The last dose cannot be taken after the draw.")
    if analytes:
        concentration = sum(analytes.values(), Decimal(0))
        unit = Sample.Unit.NG_ML
    resulted = concentration is not None or below_lloq
    _check_result(errors, concentration, unit, below_lloq)
    _raise_if(errors)
    regimen = treatment.regimen_on(timezone.localdate(drawn_at))
    sample = Sample(
        treatment=treatment,
        status=Sample.Status.RESULTED if resulted else Sample.Status.DRAWN,
        drawn_at=drawn_at,
        last_dose_at=last_dose_at,
        daily_dose_mg=regimen.daily_dose_mg if regimen else None,
        administrations_per_day=regimen.administrations_per_day if regimen else None,
        concentration=concentration,
        unit=unit,
        below_lloq=below_lloq,
        analytes={k: json_number(v) for k, v in (analytes or {}).items()},
        lab_accession=lab_accession.strip(),
        created_by=actor,
    )
    clinical.compute_sample(sample)
    _full_clean(sample, exclude=["treatment"])
    return sample


@transaction.atomic
def sample_record(*, actor: AbstractBaseUser | None, **fields: Any) -> Sample:
    """Log a drawn sample (with its result when known) and compute its Ctrough (SPEC §4);
    a result queues its advice. Fields as for `sample_build`."""
    sample = sample_build(actor=actor, **fields)
    sample.save()
    audit.record(actor=actor, action=AuditEvent.Action.CREATE, instance=sample)
    if sample.status == Sample.Status.RESULTED:
        after_commit("compute_sample_advice", sample.pk)
    return sample


@transaction.atomic
def sample_result(
    *,
    actor: AbstractBaseUser | None,
    sample: Sample,
    concentration: Decimal | None,
    unit: str = Sample.Unit.NG_ML,
    below_lloq: bool = False,
) -> Sample:
    """Enter the lab result of a drawn sample; it is computed and advised on as if logged so."""
    sample = (
        Sample.objects.select_for_update(of=("self",))
        .select_related("treatment__drug", "treatment__patient__site")
        .get(pk=sample.pk)
    )
    _require_site_role(actor, sample.treatment.patient.site, "sample")
    if sample.status != Sample.Status.DRAWN:
        raise StateConflict(f"Only a drawn sample awaits its result; this one is {sample.status}.")
    errors: dict[str, list[str]] = {}
    if concentration is None and not below_lloq:
        _add(
            errors,
            "concentration",
            "Give the result, or mark it below the limit of quantification.",
        )
    _check_result(errors, concentration, unit, below_lloq)
    _raise_if(errors)
    before = audit.snapshot(sample)
    sample.status = Sample.Status.RESULTED
    sample.concentration = concentration
    sample.unit = unit
    sample.below_lloq = below_lloq
    clinical.compute_sample(sample)
    sample.save(
        update_fields=[
            "status", "concentration", "unit", "below_lloq", "concentration_ng_ml",
            "hours_after_dose", "estimated_ctrough_ng_ml", "method", "evaluable",
            "not_evaluable_reasons", "warnings", "updated_at",
        ]
    )  # fmt: skip
    audit.record(actor=actor, action=AuditEvent.Action.UPDATE, instance=sample, before=before)
    after_commit("compute_sample_advice", sample.pk)
    return sample


@transaction.atomic
def sample_cancel(*, actor: AbstractBaseUser, sample: Sample, reason: str) -> Sample:
    """Cancel a sample (entered in error, not drawn): it stays on record with the reason, and
    its unsigned advice is withdrawn (superseded)."""
    sample = Sample.objects.select_for_update().get(pk=sample.pk)
    _require_site_role(actor, sample.treatment.patient.site, "sample")
    if not reason.strip():
        raise ValidationError({"reason": ["Say why the sample is cancelled."]})
    if sample.status == Sample.Status.CANCELLED:
        raise StateConflict("The sample is already cancelled.")
    before = audit.snapshot(sample)
    sample.status = Sample.Status.CANCELLED
    sample.cancel_reason = reason.strip()
    sample.save(update_fields=["status", "cancel_reason", "updated_at"])
    audit.record(actor=actor, action=AuditEvent.Action.CANCEL, instance=sample, before=before)
    for advice in Advice.objects.select_for_update().filter(
        sample=sample, state__in=[Advice.State.DRAFT, Advice.State.RELEASED]
    ):
        advice_before = audit.snapshot(advice)
        advice.state = Advice.State.SUPERSEDED
        advice.save(update_fields=["state", "updated_at"])
        audit.record(
            actor=actor,
            action=AuditEvent.Action.UPDATE,
            instance=advice,
            before=advice_before,
            detail=f"withdrawn: sample {sample.pk} cancelled",
        )
    return sample


# Adverse events ---------------------------------------------------------------------------------


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
    _require_site_role(actor, treatment.patient.site, "treatment")
    errors: dict[str, list[str]] = {}
    ctcae_term = ctcae.find_term(term)
    if ctcae_term is None:
        _add(errors, "term", f"{term!r} is not a CTCAE v5.0 term.")
    else:
        if grade not in ctcae.allowed_grades(ctcae_term):
            defined = ", ".join(str(g) for g in ctcae.allowed_grades(ctcae_term))
            _add(errors, "grade", f"{ctcae_term.term} has grades {defined} only.")
        if ctcae_term.is_other_specify and not other_specify.strip():
            _add(errors, "other_specify", "Describe the event for an 'Other, specify' term.")
        if not ctcae_term.is_other_specify and other_specify.strip():
            _add(errors, "other_specify", "Free text is only for an 'Other, specify' term.")
    if not 1 <= grade <= 5:
        errors["grade"] = ["The CTCAE grade is 1 to 5."]
    if onset > today:
        _add(errors, "onset", "The onset date is in the future.")
    if onset < treatment.start_date:
        _add(errors, "onset", f"Onset before the treatment started ({treatment.start_date}).")
    if resolved is not None:
        if resolved < onset:
            _add(errors, "resolved", "An event cannot resolve before its onset.")
        if resolved > today:
            _add(errors, "resolved", "The resolution date is in the future.")
    if action not in AdverseEvent.Action.values:
        _add(errors, "action", f"Unknown action {action!r}.")
    _raise_if(errors)
    assert ctcae_term is not None  # noqa: S101 - no errors means the term was found
    earlier = treatment.adverse_events.filter(entered_in_error=False).values_list("term", "onset")
    occurrence = rules.occurrence_number(ctcae_term.term, onset, earlier)
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
    after_commit("compute_adverse_event_advice", event.pk)
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
    _require_site_role(actor, event.treatment.patient.site, "adverse_event")
    errors: dict[str, list[str]] = {}
    if resolved < event.onset:
        _add(errors, "resolved", "An event cannot resolve before its onset.")
    if resolved > today:
        _add(errors, "resolved", "The resolution date is in the future.")
    _raise_if(errors)
    before = audit.snapshot(event)
    event.resolved = resolved
    event.save(update_fields=["resolved", "updated_at"])
    audit.record(actor=actor, action=AuditEvent.Action.UPDATE, instance=event, before=before)
    return event


# Drug catalogue ---------------------------------------------------------------------------------


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
