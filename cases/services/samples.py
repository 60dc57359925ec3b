"""Writes to samples: recording, the result, cancelling."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from advice.engine.case_input import json_number
from cases import audit, clinical, signals
from cases.errors import StateConflict
from cases.models import (
    AuditEvent,
    Sample,
    Treatment,
)
from cases.services.validation import (
    CLOCK_SKEW,
    add_error,
    full_clean,
    raise_if,
    require_site_role,
)


def _check_result(
    errors: dict[str, list[str]],
    concentration: Decimal | None,
    unit: str,
    below_lloq: bool,
) -> None:
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
    require_site_role(actor, treatment.patient.site, "treatment")
    errors: dict[str, list[str]] = {}
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
    if last_dose_at is not None:
        if timezone.is_naive(last_dose_at):
            add_error(
                errors, "last_dose_at", "Give the time zone (e.g. 2024-03-01T21:00:00+01:00)."
            )
        elif "drawn_at" not in errors and last_dose_at > drawn_at:
            add_error(errors, "last_dose_at", "The last dose cannot be taken after the draw.")
    if analytes:
        concentration = sum(analytes.values(), Decimal(0))
        unit = Sample.Unit.NG_ML
    resulted = concentration is not None or below_lloq
    _check_result(errors, concentration, unit, below_lloq)
    raise_if(errors)
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
    full_clean(sample, exclude=["treatment"])
    return sample


@transaction.atomic
def sample_record(*, actor: AbstractBaseUser | None, **fields: Any) -> Sample:
    """Log a drawn sample (with its result when known) and compute its Ctrough
    (docs/clinical-rules.md §2); a result queues its advice. Fields as for `sample_build`."""
    sample = sample_build(actor=actor, **fields)
    sample.save()
    audit.record(actor=actor, action=AuditEvent.Action.CREATE, instance=sample)
    if sample.status == Sample.Status.RESULTED:
        signals.sample_resulted.send(sender=Sample, sample=sample)
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
    require_site_role(actor, sample.treatment.patient.site, "sample")
    if sample.status != Sample.Status.DRAWN:
        raise StateConflict(f"Only a drawn sample awaits its result; this one is {sample.status}.")
    errors: dict[str, list[str]] = {}
    if concentration is None and not below_lloq:
        add_error(
            errors,
            "concentration",
            "Give the result, or mark it below the limit of quantification.",
        )
    _check_result(errors, concentration, unit, below_lloq)
    raise_if(errors)
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
    signals.sample_resulted.send(sender=Sample, sample=sample)
    return sample


@transaction.atomic
def sample_cancel(*, actor: AbstractBaseUser, sample: Sample, reason: str) -> Sample:
    """Cancel a sample (entered in error, not drawn): it stays on record with the reason, counts
    as not evaluable everywhere, and its unsigned advice is withdrawn (superseded)."""
    sample = Sample.objects.select_for_update().get(pk=sample.pk)
    require_site_role(actor, sample.treatment.patient.site, "sample")
    if not reason.strip():
        raise ValidationError({"reason": ["Say why the sample is cancelled."]})
    if sample.status == Sample.Status.CANCELLED:
        raise StateConflict("The sample is already cancelled.")
    before = audit.snapshot(sample)
    sample.status = Sample.Status.CANCELLED
    sample.cancel_reason = reason.strip()
    # Its value may be the error being cancelled: no page, export or outcome may use it.
    sample.evaluable = False
    sample.save(update_fields=["status", "cancel_reason", "evaluable", "updated_at"])
    audit.record(actor=actor, action=AuditEvent.Action.CANCEL, instance=sample, before=before)
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
    regimen = sample.treatment.regimen_on(timezone.localdate(sample.drawn_at))
    sample.daily_dose_mg = regimen.daily_dose_mg if regimen else None
    sample.administrations_per_day = regimen.administrations_per_day if regimen else None
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
