"""Writes to samples: recording, the result, correcting, cancelling.

Every write checks what recording checks (docs/clinical-rules.md §1.1–§1.3): the times, the
result and its unit, a value outside the drug's plausible range or a last dose more than 7 days
before the draw (stored only when confirmed), and duplicates (409 naming the other sample).
"""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from advice.engine import plausibility, units
from advice.engine.case_input import json_number
from cases import access, audit, clinical, signals
from cases.errors import DuplicateSample, StateConflict
from cases.models import (
    AuditEvent,
    Sample,
    Site,
    Treatment,
)
from cases.services.due_dates import due_dates_refresh
from cases.services.validation import (
    CLOCK_SKEW,
    add_error,
    full_clean,
    raise_if,
    require_site_role,
)

# Two samples of one treatment drawn this close are one sample entered twice
# (docs/clinical-rules.md §1.2).
DUPLICATE_WINDOW = datetime.timedelta(minutes=30)
# What a correction may change (docs/api.md, "Corrections").
CORRECTABLE_FIELDS = ("drawn_at", "last_dose_at", "concentration", "unit", "below_lloq")
RESULT_FIELDS = ("concentration", "unit", "below_lloq")
# The audit detail of a correction starts so; the sample page lists these events.
CORRECTION_DETAIL = "corrected: "
# The reason is kept whole in the audit detail (300 characters).
REASON_MAX_LENGTH = 200
# The code of an error the user may overrule by confirming (`confirm_implausible`).
CONFIRMATION_NEEDED = "confirmation_needed"

# Field errors as the services collect them; an error that can be confirmed is a ValidationError
# with code CONFIRMATION_NEEDED (its code survives `raise_if`, so pages can offer the checkbox).
FieldErrors = dict[str, list[str | ValidationError]]


def needs_confirmation(error: ValidationError) -> bool:
    """Does the refusal hold an error that `confirm_implausible` would overrule?"""
    return any(
        item.code == CONFIRMATION_NEEDED
        for items in getattr(error, "error_dict", {}).values()
        for item in items
    )


def _moment_text(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")


def _check_result(
    errors: FieldErrors,
    concentration: Decimal | None,
    unit: str,
    below_lloq: bool,
    *,
    required: bool = False,
) -> None:
    """The result and its unit; `required` when a result is being entered (not a sample logged
    before its result is known)."""
    if required and concentration is None and not below_lloq:
        add_error(
            errors,
            "concentration",
            "Give the result, or mark it below the limit of quantification.",
        )
    if concentration is not None and concentration < 0:
        add_error(errors, "concentration", "A concentration cannot be negative.")
    elif concentration == 0 and not below_lloq:
        add_error(
            errors,
            "concentration",
            "A result of 0 is only possible as 'below the limit of quantification'.",
        )
    if unit not in Sample.Unit.values:
        add_error(
            errors, "unit", f"Unknown unit {unit!r}; use one of {', '.join(Sample.Unit.values)}."
        )


def _ask_confirmation(errors: FieldErrors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(ValidationError(message, code=CONFIRMATION_NEEDED))


def _check_plausible_result(
    errors: FieldErrors,
    treatment: Treatment,
    concentration: Decimal | None,
    unit: str,
    below_lloq: bool,
    confirmed: bool,
) -> bool:
    """Refuse a value no dissolved drug reaches, and one outside the drug's plausible range
    unless `confirmed`; True when the value is outside that range."""
    if concentration is None or below_lloq or "concentration" in errors or "unit" in errors:
        return False
    facts = treatment.drug.facts()
    value_ng_ml = units.to_ng_ml(concentration, unit, facts.molar_mass_g_mol)
    as_entered = f"{plausibility.number_text(concentration)} {unit}"
    if unit != Sample.Unit.NG_ML:
        shown = value_ng_ml.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
        as_entered += f" (= {plausibility.number_text(shown)} ng/mL)"
    if value_ng_ml > units.MAX_PLAUSIBLE_NG_ML:
        add_error(errors, "concentration", f"{as_entered} is above 1 g/mL: not a concentration.")
        return False
    if not plausibility.implausible_concentration(value_ng_ml, facts, below_lloq=False):
        return False
    if not confirmed:
        bounds = plausibility.plausible_range(facts)
        assert bounds is not None  # noqa: S101 - an implausible value has a range to be outside
        _ask_confirmation(
            errors,
            "concentration",
            f"{as_entered} is outside the plausible range of {facts.label}, {bounds.text}: "
            "check the value and its unit. If it is right, confirm the implausible value.",
        )
    return True


def _check_times(
    errors: FieldErrors,
    treatment: Treatment,
    drawn_at: datetime.datetime,
    last_dose_at: datetime.datetime | None,
    *,
    now: datetime.datetime,
    confirmed: bool,
) -> bool:
    """The draw and last-dose times; True when the last dose is more than 7 days before the
    draw (refused unless `confirmed`)."""
    if timezone.is_naive(drawn_at):
        add_error(errors, "drawn_at", "Give the time zone (e.g. 2024-03-01T09:10:00+01:00).")
    elif drawn_at > now + CLOCK_SKEW:
        add_error(errors, "drawn_at", "The draw time is in the future.")
    elif timezone.localdate(drawn_at) < treatment.start_date:
        add_error(
            errors, "drawn_at", f"Drawn before the treatment started ({treatment.start_date})."
        )
    elif treatment.stop_date is not None and timezone.localdate(drawn_at) > treatment.stop_date:
        add_error(errors, "drawn_at", f"Drawn after the treatment stopped ({treatment.stop_date}).")
    if last_dose_at is None:
        return False
    if timezone.is_naive(last_dose_at):
        add_error(errors, "last_dose_at", "Give the time zone (e.g. 2024-03-01T21:00:00+01:00).")
        return False
    if "drawn_at" in errors:
        return False
    if last_dose_at > drawn_at:
        add_error(errors, "last_dose_at", "The last dose cannot be taken after the draw.")
        return False
    if not plausibility.implausible_dose_gap(drawn_at, last_dose_at):
        return False
    if not confirmed:
        days = (drawn_at - last_dose_at) / datetime.timedelta(days=1)
        _ask_confirmation(
            errors,
            "last_dose_at",
            f"The last dose is {days:.1f} days before the draw, more than "
            f"{plausibility.MAX_DOSE_GAP.days}: check the date. If it is right, confirm it; the "
            "sample is then stored as not evaluable (missed dose).",
        )
    return True


def sample_checks(
    treatment: Treatment,
    *,
    drawn_at: datetime.datetime,
    last_dose_at: datetime.datetime | None,
    concentration: Decimal | None,
    unit: str,
    below_lloq: bool,
    confirmed: bool,
    now: datetime.datetime,
) -> tuple[FieldErrors, bool]:
    """What recording checks of a sample's own values (not duplicates), for a treatment that
    need not be stored yet (a cohort file's): the field errors, and whether the sample is
    stored flagged `confirmed_implausible` (a value outside the plausible range or a last dose
    more than 7 days before the draw, either confirmed)."""
    errors: FieldErrors = {}
    long_gap = _check_times(errors, treatment, drawn_at, last_dose_at, now=now, confirmed=confirmed)
    _check_result(errors, concentration, unit, below_lloq)
    implausible = _check_plausible_result(
        errors, treatment, concentration, unit, below_lloq, confirmed
    )
    return errors, long_gap or implausible


def _refuse_duplicates(
    treatment: Treatment,
    drawn_at: datetime.datetime,
    lab_accession: str,
    *,
    exclude_pk: int | None = None,
) -> None:
    """DuplicateSample when a live sample of the treatment was drawn within 30 minutes, or one
    of the site carries the same lab accession number (the caller holds the locks)."""
    live = Sample.objects.exclude(status=Sample.Status.CANCELLED)
    if exclude_pk is not None:
        live = live.exclude(pk=exclude_pk)
    near = (
        live.filter(
            treatment=treatment,
            drawn_at__gte=drawn_at - DUPLICATE_WINDOW,
            drawn_at__lte=drawn_at + DUPLICATE_WINDOW,
        )
        .order_by("drawn_at", "pk")
        .first()
    )
    if near is not None:
        raise DuplicateSample(
            f"Sample {near.pk} of this treatment was drawn at {_moment_text(near.drawn_at)}, "
            f"within {DUPLICATE_WINDOW.seconds // 60} minutes of this one: it is the same "
            "sample. Correct or cancel that one instead.",
            conflicting_sample=near.pk,
        )
    if not lab_accession:
        return
    same = (
        live.filter(
            treatment__patient__site_id=treatment.patient.site_id,
            lab_accession__iexact=lab_accession,
        )
        .select_related("treatment__patient")
        .order_by("pk")
        .first()
    )
    if same is not None:
        raise DuplicateSample(
            f"Lab accession number {lab_accession} is already used at this site by sample "
            f"{same.pk} ({same.treatment.patient.study_number}, drawn "
            f"{_moment_text(same.drawn_at)}).",
            conflicting_sample=same.pk,
        )


def _copy_dose(sample: Sample) -> None:
    """The dose a sample was drawn under is the live regimen in effect on its draw day."""
    regimen = sample.treatment.regimen_on(timezone.localdate(sample.drawn_at))
    sample.daily_dose_mg = regimen.daily_dose_mg if regimen else None
    sample.administrations_per_day = regimen.administrations_per_day if regimen else None


def _lock_for_duplicates(treatment: Treatment, lab_accession: str) -> None:
    """Serialise the writes the duplicate rules compare: the treatment's samples, and the
    site's accession numbers when one is given (always treatment first, then site)."""
    locked = (
        Treatment.objects.select_for_update(of=("self",))
        .select_related("patient")
        .get(pk=treatment.pk)
    )
    if lab_accession:
        Site.objects.select_for_update().get(pk=locked.patient.site_id)


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
    confirm_implausible: bool = False,
    now: datetime.datetime | None = None,
) -> Sample:
    """A validated, computed, unsaved sample: what `sample_record` would store (and what the
    sample form previews). Raises ValidationError naming the fields, DuplicateSample when the
    sample is already on record."""
    now = now or timezone.now()
    treatment = Treatment.objects.select_related("drug", "patient__site").get(pk=treatment.pk)
    require_site_role(actor, treatment.patient.site, "treatment")
    if analytes:
        concentration = sum(analytes.values(), Decimal(0))
        unit = Sample.Unit.NG_ML
    resulted = concentration is not None or below_lloq
    errors, flagged = sample_checks(
        treatment,
        drawn_at=drawn_at,
        last_dose_at=last_dose_at,
        concentration=concentration,
        unit=unit,
        below_lloq=below_lloq,
        confirmed=confirm_implausible,
        now=now,
    )
    raise_if(errors)
    lab_accession = lab_accession.strip()
    _refuse_duplicates(treatment, drawn_at, lab_accession)
    sample = Sample(
        treatment=treatment,
        status=Sample.Status.RESULTED if resulted else Sample.Status.DRAWN,
        drawn_at=drawn_at,
        last_dose_at=last_dose_at,
        concentration=concentration,
        unit=unit,
        below_lloq=below_lloq,
        analytes={k: json_number(v) for k, v in (analytes or {}).items()},
        lab_accession=lab_accession,
        confirmed_implausible=flagged,
        created_by=actor,
    )
    _copy_dose(sample)
    clinical.compute_sample(sample)
    full_clean(sample, exclude=["treatment"])
    return sample


@transaction.atomic
def sample_record(*, actor: AbstractBaseUser | None, **fields: Any) -> Sample:
    """Log a drawn sample (with its result when known) and compute its Ctrough
    (docs/clinical-rules.md §2); a result queues its advice. Fields as for `sample_build`."""
    _lock_for_duplicates(fields["treatment"], fields.get("lab_accession", "").strip())
    sample = sample_build(actor=actor, **fields)
    sample.save()
    audit.record(actor=actor, action=AuditEvent.Action.CREATE, instance=sample)
    due_dates_refresh(sample.treatment)
    if sample.status == Sample.Status.RESULTED:
        signals.sample_resulted.send(sender=Sample, sample=sample)
    return sample


def _long_gap(sample: Sample) -> bool:
    return sample.last_dose_at is not None and plausibility.implausible_dose_gap(
        sample.drawn_at, sample.last_dose_at
    )


@transaction.atomic
def sample_result(
    *,
    actor: AbstractBaseUser | None,
    sample: Sample,
    concentration: Decimal | None,
    unit: str = Sample.Unit.NG_ML,
    below_lloq: bool = False,
    confirm_implausible: bool = False,
) -> Sample:
    """Enter the lab result of a drawn sample; it is computed and advised on as if logged so."""
    sample = (
        Sample.objects.select_for_update(of=("self",))
        .select_related("treatment__drug", "treatment__patient__site")
        .get(pk=sample.pk)
    )
    require_site_role(actor, sample.treatment.patient.site, "sample")
    if sample.status != Sample.Status.DRAWN:
        raise StateConflict(f"Only a drawn sample awaits its result; this one is {sample.status}.")
    errors: FieldErrors = {}
    _check_result(errors, concentration, unit, below_lloq, required=True)
    implausible = _check_plausible_result(
        errors, sample.treatment, concentration, unit, below_lloq, confirm_implausible
    )
    raise_if(errors)
    before = audit.snapshot(sample)
    sample.status = Sample.Status.RESULTED
    sample.concentration = concentration
    sample.unit = unit
    sample.below_lloq = below_lloq
    sample.confirmed_implausible = implausible or _long_gap(sample)
    clinical.compute_sample(sample)
    sample.save(
        update_fields=[
            "status", "concentration", "unit", "below_lloq", "confirmed_implausible",
            "concentration_ng_ml", "hours_after_dose", "estimated_ctrough_ng_ml", "method",
            "evaluable", "not_evaluable_reasons", "warnings", "updated_at",
        ]
    )  # fmt: skip
    audit.record(actor=actor, action=AuditEvent.Action.UPDATE, instance=sample, before=before)
    signals.sample_resulted.send(sender=Sample, sample=sample)
    return sample


def _require_correction_right(actor: AbstractBaseUser | None, site_id: int) -> None:
    if actor is None:
        return
    if not actor.has_perm("cases.correct_sample") or not (
        actor.is_superuser or access.works_at(actor, site_id)
    ):
        raise PermissionDenied("Only a nurse or pharmacist of the patient's site corrects samples.")


@transaction.atomic
def sample_correct(
    *,
    actor: AbstractBaseUser | None,
    sample: Sample,
    reason: str,
    confirm_implausible: bool = False,
    now: datetime.datetime | None = None,
    **fields: Any,
) -> Sample:
    """Correct a drawn or resulted sample's draw time, time of last dose, result, unit or
    below-LLOQ flag (`fields`: only those given, and only those that differ, change), with the
    checks of recording. The dose is copied again when the draw day changes; the sample is
    computed again and audited with the reason, and a resulted sample is announced as corrected
    (its open advice is superseded and computed again)."""
    unknown = sorted(set(fields) - set(CORRECTABLE_FIELDS))
    if unknown:
        raise TypeError(f"not a correctable sample field: {', '.join(unknown)}")
    now = now or timezone.now()
    current = Sample.objects.select_related("treatment__patient").get(pk=sample.pk)
    _require_correction_right(actor, current.treatment.patient.site_id)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["Say why the sample is corrected."]})
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError({"reason": [f"At most {REASON_MAX_LENGTH} characters."]})
    _lock_for_duplicates(current.treatment, "")
    sample = (
        Sample.objects.select_for_update(of=("self",))
        .select_related("treatment__drug", "treatment__patient__site")
        .get(pk=sample.pk)
    )
    if sample.status not in (Sample.Status.DRAWN, Sample.Status.RESULTED):
        raise StateConflict(
            f"The sample is {sample.status}: only a drawn or resulted sample can be corrected."
        )
    changed = {name: value for name, value in fields.items() if value != getattr(sample, name)}
    if not changed:
        raise ValidationError(
            {"non_field_errors": ["These are the sample's values already: nothing to correct."]}
        )
    treatment = sample.treatment
    values = {name: changed.get(name, getattr(sample, name)) for name in CORRECTABLE_FIELDS}
    result_changed = [name for name in RESULT_FIELDS if name in changed]
    errors: FieldErrors = {}
    if {"drawn_at", "last_dose_at"} & changed.keys():
        long_gap = _check_times(
            errors,
            treatment,
            values["drawn_at"],
            values["last_dose_at"],
            now=now,
            confirmed=confirm_implausible,
        )
    else:
        long_gap = _long_gap(sample)
    implausible = plausibility.implausible_concentration(
        sample.concentration_ng_ml, treatment.drug.facts(), below_lloq=sample.below_lloq
    )
    if result_changed and sample.status == Sample.Status.DRAWN:
        add_error(
            errors,
            result_changed[0],
            "The sample has no result yet: enter it as the sample's result.",
        )
    elif result_changed:
        _check_result(
            errors, values["concentration"], values["unit"], values["below_lloq"], required=True
        )
        implausible = _check_plausible_result(
            errors,
            treatment,
            values["concentration"],
            values["unit"],
            values["below_lloq"],
            confirm_implausible,
        )
    raise_if(errors)
    if "drawn_at" in changed:
        _refuse_duplicates(treatment, values["drawn_at"], "", exclude_pk=sample.pk)
    before = audit.snapshot(sample)
    draw_day = timezone.localdate(sample.drawn_at)
    for name, value in changed.items():
        setattr(sample, name, value)
    if {"concentration", "unit"} & changed.keys():
        # The analytes added up to the value corrected: the corrected value stands alone.
        sample.analytes = {}
    if timezone.localdate(sample.drawn_at) != draw_day:
        _copy_dose(sample)
    sample.confirmed_implausible = long_gap or implausible
    clinical.compute_sample(sample)
    full_clean(sample, exclude=["treatment"])
    sample.save()
    audit.record(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        instance=sample,
        before=before,
        detail=f"{CORRECTION_DETAIL}{reason}",
    )
    if "drawn_at" in changed:
        # The draw day decides which due date the sample fulfils.
        due_dates_refresh(treatment)
    if sample.status == Sample.Status.RESULTED:
        signals.sample_corrected.send(sender=Sample, sample=sample, actor=actor, reason=reason)
    return sample


@transaction.atomic
def sample_cancel(*, actor: AbstractBaseUser, sample: Sample, reason: str) -> Sample:
    """Cancel a sample (entered in error, not drawn): it stays on record with the reason, counts
    as not evaluable everywhere, and its unsigned advice is withdrawn (superseded)."""
    # The treatment first, as every write to its samples locks it: its due dates are rewritten.
    Treatment.objects.select_for_update(of=("self",)).filter(
        pk=Sample.objects.filter(pk=sample.pk).values("treatment_id")[:1]
    ).first()
    sample = Sample.objects.select_for_update().get(pk=sample.pk)
    require_site_role(actor, sample.treatment.patient.site, "sample")
    if not reason.strip():
        raise ValidationError({"reason": ["Say why the sample is cancelled."]})
    if sample.status == Sample.Status.CANCELLED:
        raise StateConflict("The sample is already cancelled.")
    before = audit.snapshot(sample)
    sample.status = Sample.Status.CANCELLED
    sample.cancel_reason = reason.strip()
    # Its value may be the error being cancelled: no page, export or outcome may use it. The
    # reason code says why wherever only the reasons are read (exports, the API).
    sample.evaluable = False
    sample.not_evaluable_reasons = [
        *(code for code in sample.not_evaluable_reasons if code != Sample.CANCELLED_REASON),
        Sample.CANCELLED_REASON,
    ]
    sample.save(
        update_fields=[
            "status",
            "cancel_reason",
            "evaluable",
            "not_evaluable_reasons",
            "updated_at",
        ]
    )
    audit.record(actor=actor, action=AuditEvent.Action.CANCEL, instance=sample, before=before)
    due_dates_refresh(sample.treatment)
    signals.sample_cancelled.send(sender=Sample, sample=sample, actor=actor)
    return sample


COMPUTED_FIELDS = [
    "daily_dose_mg", "administrations_per_day", "concentration_ng_ml", "hours_after_dose",
    "estimated_ctrough_ng_ml", "method", "evaluable", "not_evaluable_reasons", "warnings",
]  # fmt: skip


def sample_recompute(*, actor: AbstractBaseUser | None, sample: Sample, reason: str) -> Sample:
    """Copy the dose in effect on the draw day again and recompute the sample, in the caller's
    transaction (the dose history under it was corrected). A resulted sample whose estimate
    changed is announced as corrected, so its open advice is computed again."""
    sample = (
        Sample.objects.select_for_update(of=("self",))
        .select_related("treatment__drug", "treatment__patient__site")
        .get(pk=sample.pk)
    )
    before = audit.snapshot(sample)
    _copy_dose(sample)
    clinical.compute_sample(sample)
    after = audit.snapshot(sample)
    if after == before:
        return sample
    sample.save(update_fields=[*COMPUTED_FIELDS, "updated_at"])
    audit.record(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        instance=sample,
        before=before,
        detail=f"recomputed: {reason}",
    )
    if sample.status == Sample.Status.RESULTED:
        signals.sample_corrected.send(sender=Sample, sample=sample, actor=actor, reason=reason)
    return sample
