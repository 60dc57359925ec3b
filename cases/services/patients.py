"""Writes to patients."""

from __future__ import annotations

import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from cases import audit, roles
from cases.models import (
    AuditEvent,
    Patient,
    Site,
)
from cases.services.validation import (
    add_error,
    full_clean,
    normalised_identifier,
    raise_if,
    require_site_role,
    staff_member,
)


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
    require_site_role(actor, site)
    staff_member(site, treating_physician, roles.PHYSICIAN, "treating_physician")
    staff_member(site, responsible_nurse, roles.NURSE, "responsible_nurse")
    patient = Patient(
        site=site,
        study_number=normalised_identifier(study_number),
        sex=sex,
        birth_year=birth_year,
        tumour=tumour.strip(),
        tumour_code=tumour_code.strip(),
        name=name.strip(),
        record_number=normalised_identifier(record_number),
        treating_physician=treating_physician,
        responsible_nurse=responsible_nurse,
    )
    errors: dict[str, list[str]] = {}
    if birth_year > today.year:
        add_error(errors, "birth_year", f"Birth year {birth_year} is in the future.")
    raise_if(errors)
    full_clean(patient)
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
