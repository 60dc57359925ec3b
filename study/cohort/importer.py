"""Importing a cohort file (docs/cohort-format.md §2 and §3): `python manage.py import_cohort`.

The whole document is checked first and every problem reported with its JSON path: its shape and
own rules by `schema`, then here what depends on this installation (the drug catalogue, the sites
and patients already stored) and what the services check when a record is entered live. Only a
valid document is imported, in one transaction, set-based (`bulk`): every sample's Ctrough and
advice computed as if it had been logged live. A patient whose study number is already here is
skipped when it is identical and an error when it is not.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from advice.engine.units import NG_PER_ML
from cases import audit, services
from cases.models import AuditEvent, DoseRegimen, Drug, Patient, Site, Treatment
from cases.services.samples import DUPLICATE_WINDOW
from cases.services.validation import beyond_planning_horizon
from study.cohort.bulk import CohortWriter
from study.cohort.compare import differences
from study.cohort.exporter import by_start
from study.cohort.records import (
    BATCH_SIZE,
    AdverseEventRecord,
    CohortError,
    DecisionRecord,
    DoseRecord,
    PatientRecord,
    SampleRecord,
    TreatmentRecord,
    overlapping_course,
    stored_patient_record,
    with_history,
)
from study.cohort.schema import PatientEntry, PatientReading, SiteEntry, TreatmentEntry, read_cohort

# Service error fields that the cohort file spells differently.
_FILE_KEY_OF_FIELD = {"effective_from": "from"}


class CohortInvalid(Exception):
    """The cohort file has problems; nothing was imported. `errors` lists every one."""

    def __init__(self, errors: Sequence[CohortError]) -> None:
        super().__init__(f"the cohort file has {len(errors)} problem(s)")
        self.errors = list(errors)


@dataclass(frozen=True)
class ImportResult:
    """Study numbers imported and skipped as identical, and site codes created."""

    imported: tuple[str, ...]
    unchanged: tuple[str, ...]
    sites_created: tuple[str, ...]


def _chunks(values: Sequence[str], size: int = BATCH_SIZE) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# Checking a document against this installation ---------------------------------------------------


@dataclass
class _Plan:
    """What checking a document found: its problems, and what to import when there are none."""

    errors: list[CohortError] = field(default_factory=list)
    sites: dict[str, str] = field(default_factory=dict)  # code → name, as listed in the file
    new_patients: list[PatientRecord] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


class _Checker:
    """Checks the well-formed parts of a document against the catalogue and the database, and
    turns its valid patients into records."""

    def __init__(self, *, now: dt.datetime) -> None:
        self.now = now
        self.plan = _Plan()
        self.catalogue: dict[str, list[Drug]] = {}
        for drug in Drug.objects.order_by("name", "indication"):
            self.catalogue.setdefault(drug.name.lower(), []).append(drug)

    def error(self, path: str, message: str) -> None:
        self.plan.errors.append(CohortError(path, message))

    def document(self, document: object) -> _Plan:
        reading = read_cohort(document, now=self.now)
        self.plan.errors.extend(reading.errors)
        self.sites(reading.sites)
        self.patients(reading.patients)
        return self.plan

    def sites(self, entries: Sequence[tuple[int, SiteEntry]]) -> None:
        listed = self.plan.sites
        paths: dict[str, str] = {}
        for index, site in entries:
            path = f"sites[{index}]"
            if site.code in listed:
                self.error(f"{path}.code", f"{site.code} is listed twice (also {paths[site.code]})")
                continue
            listed[site.code] = site.name
            paths[site.code] = path
        for site in Site.objects.filter(code__in=list(listed)):
            if site.name != listed[site.code]:
                # A code naming another hospital here would put patients at the wrong site.
                self.error(
                    f"{paths[site.code]}.name",
                    f"site {site.code} exists here as {site.name!r}, not {listed[site.code]!r}",
                )

    def patients(self, readings: Sequence[PatientReading]) -> None:
        entries = [reading.entry for reading in readings if reading.entry is not None]
        existing: dict[str, Patient] = {}
        for chunk in _chunks(sorted({entry.study_number for entry in entries})):
            for patient in with_history(Patient.objects.filter(study_number__in=chunk)):
                existing[patient.study_number] = patient
        # A hospital record number identifies one patient at its site (a database constraint).
        holder_of_number: dict[tuple[str, str], str] = {}
        for chunk in _chunks(sorted({entry.record_number for entry in entries} - {""})):
            for code, number, study_number in Patient.objects.filter(
                record_number__in=chunk
            ).values_list("site__code", "record_number", "study_number"):
                holder_of_number[(code, number)] = f"patient {study_number} in the database"
        known_sites = set(self.plan.sites) | set(Site.objects.values_list("code", flat=True))
        path_of_number: dict[str, str] = {}
        for reading in readings:
            if reading.entry is None:
                self.plan.errors.extend(reading.errors)
                continue
            path = f"patients[{reading.index}]"
            errors_before = len(self.plan.errors)
            study_number = reading.entry.study_number
            if study_number in path_of_number:
                self.error(
                    f"{path}.study_number",
                    f"{study_number} is also the study number of {path_of_number[study_number]}",
                )
            path_of_number.setdefault(study_number, path)
            record = self.patient(reading.entry, path, reading.index, known_sites)
            if record is None or len(self.plan.errors) > errors_before:
                continue
            stored = existing.get(study_number)
            if stored is not None:
                changes = differences(path, record, stored_patient_record(stored))
                self.plan.errors.extend(changes)
                if not changes:
                    self.plan.unchanged.append(study_number)
                continue
            if record.record_number:
                number = (record.site_code, record.record_number)
                holder = holder_of_number.setdefault(number, path)
                if holder != path:
                    self.error(
                        f"{path}.record_number",
                        f"record number {record.record_number} at {record.site_code} is already "
                        f"that of {holder}",
                    )
                    continue
            self.plan.new_patients.append(record)

    def patient(
        self, entry: PatientEntry, path: str, index: int, known_sites: set[str]
    ) -> PatientRecord | None:
        errors_before = len(self.plan.errors)
        site_known = entry.site in known_sites
        if not site_known:
            self.error(
                f"{path}.site",
                f"unknown site {entry.site!r}: list it in `sites` or create it first",
            )
        treatments = [
            self.treatment(treatment, f"{path}.treatments[{position}]", position)
            for position, treatment in enumerate(entry.treatments)
        ]
        if not site_known or None in treatments:
            return None
        earlier: list[TreatmentRecord] = []
        for treatment in by_start(treatments):
            overlapping = overlapping_course(treatment, earlier)
            if overlapping is not None and not treatment.overlap_reason.strip():
                self.error(
                    f"{path}.treatments[{treatment.index}].overlap_reason",
                    f"treatments[{overlapping.index}] is a course of {treatment.drug.name} "
                    f"since {overlapping.start_date}, not stopped by this one's start: stop it "
                    "first, or say why both are intended",
                )
            earlier.append(treatment)
        if len(self.plan.errors) > errors_before:
            return None
        return PatientRecord(
            index=index,
            study_number=entry.study_number,
            site_code=entry.site,
            sex=entry.sex,
            birth_year=entry.birth_year,
            tumour=entry.tumour,
            tumour_code=entry.tumour_code,
            name=entry.name,
            record_number=entry.record_number,
            treatments=tuple(treatments),
        )

    def treatment(self, entry: TreatmentEntry, path: str, index: int) -> TreatmentRecord | None:
        drug = self.drug(entry, path)
        if drug is None:
            return None
        errors_before = len(self.plan.errors)
        for position, dose in enumerate(entry.doses):
            # The services' own rule: a catalogue dose level in whole tablets within the largest
            # single dose, unless confirmed off-label with a reason.
            problems: dict[str, list[str]] = {}
            services.check_dose(
                problems,
                drug,
                dose.daily_dose_mg,
                dose.administrations_per_day,
                dose.off_label_reason,
            )
            for key, messages in problems.items():
                for message in messages:
                    self.error(f"{path}.doses[{position}].{key}", message)
        self.planned(entry, path)
        samples = self.samples(entry, drug, path)
        if len(self.plan.errors) > errors_before:
            return None
        return TreatmentRecord(
            index=index,
            drug=drug,
            start_date=entry.start_date,
            stop_date=entry.stop_date,
            stop_reason=entry.stop_reason,
            overlap_reason=entry.overlap_reason,
            doses=tuple(
                DoseRecord(index=i, **dose.model_dump()) for i, dose in enumerate(entry.doses)
            ),
            samples=samples,
            adverse_events=tuple(
                AdverseEventRecord(index=i, **event.model_dump())
                for i, event in enumerate(entry.adverse_events)
            ),
            decisions=tuple(
                DecisionRecord(index=i, **decision.model_dump())
                for i, decision in enumerate(entry.decisions)
            ),
        )

    def planned(self, entry: TreatmentEntry, path: str) -> None:
        """The services plan at most a year ahead: a start, and a dose change."""
        today = timezone.localdate(self.now)
        if too_far := beyond_planning_horizon(entry.start_date, today):
            self.error(f"{path}.start_date", too_far)
        for position, dose in enumerate(entry.doses):
            if dose.status != DoseRegimen.Status.ACTIVE:
                continue
            if too_far := beyond_planning_horizon(dose.effective_from, today):
                self.error(f"{path}.doses[{position}].from", too_far)

    def samples(self, entry: TreatmentEntry, drug: Drug, path: str) -> tuple[SampleRecord, ...]:
        """What recording checks of each sample (docs/clinical-rules.md §1.1–§1.2), as its
        record: a value outside the plausible range or a last dose more than 7 days before the
        draw only when confirmed (and then flagged), and no sample twice."""
        course = Treatment(drug=drug, start_date=entry.start_date, stop_date=entry.stop_date)
        records = []
        for position, sample in enumerate(entry.samples):
            unit = sample.unit or NG_PER_ML
            concentration = sample.concentration
            if sample.analytes:
                concentration = sum(sample.analytes.values(), Decimal(0))
            problems, flagged = services.sample_checks(
                course,
                drawn_at=sample.drawn_at,
                last_dose_at=sample.last_dose_at,
                concentration=concentration,
                unit=unit,
                below_lloq=sample.below_lloq,
                confirmed=sample.confirmed_implausible,
                now=self.now,
            )
            for key, messages in problems.items():
                for message in messages:
                    self.error(
                        f"{path}.samples[{position}].{_FILE_KEY_OF_FIELD.get(key, key)}",
                        str(message.message if isinstance(message, ValidationError) else message),
                    )
            records.append(
                SampleRecord(
                    index=position,
                    **(sample.model_dump() | {"unit": unit, "confirmed_implausible": flagged}),
                )
            )
        in_draw_order = sorted(records, key=lambda record: record.drawn_at)
        for earlier, later in pairwise(in_draw_order):
            if later.drawn_at - earlier.drawn_at <= DUPLICATE_WINDOW:
                self.error(
                    f"{path}.samples[{later.index}].drawn_at",
                    f"samples[{earlier.index}] was drawn within "
                    f"{DUPLICATE_WINDOW.seconds // 60} minutes of this one: it is the same sample",
                )
        return tuple(records)

    def drug(self, entry: TreatmentEntry, path: str) -> Drug | None:
        rows = self.catalogue.get(entry.drug.lower())
        if not rows:
            self.error(
                f"{path}.drug", f"unknown drug {entry.drug!r}: not in this installation's catalogue"
            )
            return None
        indication = entry.indication
        if len(rows) == 1 and not rows[0].indication:
            if indication:
                self.error(
                    f"{path}.indication", f"{rows[0].name} has no indication variants; give null"
                )
                return None
            return rows[0]
        for row in rows:
            if row.indication.lower() == indication.lower():
                return row
        variants = ", ".join(row.indication for row in rows)
        problem = "is required" if not indication else f"{indication!r} is not valid"
        self.error(f"{path}.indication", f"{problem} for {rows[0].name}; use one of {variants}")
        return None


# Import ------------------------------------------------------------------------------------------


def validate_cohort(document: object) -> list[CohortError]:
    """Every problem of a cohort document (parsed JSON), in document order; [] when valid."""
    return _Checker(now=timezone.now()).document(document).errors


def _site_get_or_create(
    code: str, name: str, actor: AbstractBaseUser | None, actor_username: str
) -> tuple[Site, bool]:
    site, created = Site.objects.get_or_create(code=code, defaults={"name": name})
    if created:
        audit.record(
            actor=actor,
            actor_username=actor_username,
            action=AuditEvent.Action.CREATE,
            instance=site,
            detail="cohort import",
        )
    return site, created


def import_cohort(
    document: object, *, actor: AbstractBaseUser | None = None, actor_username: str = ""
) -> ImportResult:
    """Import a cohort document (parsed JSON) or raise `CohortInvalid` with every problem.
    The audit events name `actor`, or without one `actor_username` (who ran the command).

    Idempotent by study number: a patient already here and identical is skipped; one that
    differs is a problem (nothing is overwritten). Everything else is imported in one
    transaction, each record and its audit event as the services store them (`bulk`).
    """
    now = timezone.now()
    plan = _Checker(now=now).document(document)
    if plan.errors:
        raise CohortInvalid(plan.errors)
    created: list[str] = []
    try:
        with transaction.atomic():
            sites = {}
            for code, name in sorted(plan.sites.items()):
                sites[code], was_created = _site_get_or_create(code, name, actor, actor_username)
                if was_created:
                    created.append(code)
            missing = {record.site_code for record in plan.new_patients} - set(sites)
            sites |= {site.code: site for site in Site.objects.filter(code__in=missing)}
            writer = CohortWriter(actor=actor, actor_username=actor_username, now=now)
            for record in plan.new_patients:
                writer.add(record, sites[record.site_code])
            writer.finish()
    except IntegrityError:
        # Checked against the database before writing; a patient registered meanwhile (by hand,
        # or by an import running at the same time) takes a study or record number first.
        raise CohortInvalid(
            [
                CohortError(
                    "patients",
                    "a patient of this file was registered while it was imported; nothing was "
                    "imported: import the file again",
                )
            ]
        ) from None
    return ImportResult(
        imported=tuple(record.study_number for record in plan.new_patients),
        unchanged=tuple(plan.unchanged),
        sites_created=tuple(created),
    )
