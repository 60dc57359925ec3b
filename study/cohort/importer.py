"""Importing a cohort file (docs/cohort-format.md §2 and §3): `python manage.py import_cohort`.

The whole document is checked first and every problem reported with its JSON path: its shape and
own rules by `schema`, then here what depends on this installation (the drug catalogue, the sites
and patients already stored). Only a valid document is imported, in one transaction, through the
services live entry uses, so every sample's Ctrough and advice are computed as if it had been
logged live. A patient whose study number is already here is skipped when it is identical and an
error when it is not.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils import timezone

from advice import services as advice_services
from advice.engine import ctcae
from advice.engine.units import MAX_PLAUSIBLE_NG_ML, NG_PER_ML, to_ng_ml
from advice.models import OPEN_STATES, Advice
from cases import audit, services
from cases.errors import StateConflict
from cases.models import AuditEvent, DoseRegimen, Drug, Patient, Site
from study.cohort.compare import differences
from study.cohort.exporter import by_start
from study.cohort.records import (
    BATCH_SIZE,
    NOT_STATED,
    AdverseEventRecord,
    CohortError,
    DecisionRecord,
    DoseRecord,
    PatientRecord,
    SampleRecord,
    TreatmentRecord,
    stored_patient_record,
    with_history,
)
from study.cohort.schema import PatientEntry, PatientReading, SiteEntry, TreatmentEntry, read_cohort

# Service error fields that the cohort file spells differently (the ng/mL value is computed from
# the file's concentration).
_FILE_KEY_OF_FIELD = {"effective_from": "from", "concentration_ng_ml": "concentration"}


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
        for position, sample in enumerate(entry.samples):
            if sample.concentration is not None and (
                to_ng_ml(sample.concentration, sample.unit, drug.molar_mass_g_mol)
                > MAX_PLAUSIBLE_NG_ML
            ):
                self.error(
                    f"{path}.samples[{position}].concentration",
                    "is above 1 g/mL: not a possible concentration",
                )
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
            samples=tuple(
                SampleRecord(index=i, **(sample.model_dump() | {"unit": sample.unit or NG_PER_ML}))
                for i, sample in enumerate(entry.samples)
            ),
            adverse_events=tuple(
                AdverseEventRecord(index=i, **event.model_dump())
                for i, event in enumerate(entry.adverse_events)
            ),
            decisions=tuple(
                DecisionRecord(index=i, **decision.model_dump())
                for i, decision in enumerate(entry.decisions)
            ),
        )

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


@transaction.atomic
def advice_import_decision(
    *, actor: AbstractBaseUser | None, advice: Advice, decision: str, reason: str
) -> Advice:
    """Give freshly computed advice the decision a cohort file records for it
    (docs/cohort-format.md §2).

    Only the state changes: no regimen follows an accepted advice (the file's doses are the
    dose history) and there is no electronic signature, so `decided_by` stays empty and no
    signed report is rendered.
    """
    advice = Advice.objects.select_for_update().get(pk=advice.pk)
    if advice.kind != Advice.Kind.SAMPLE or advice.state not in OPEN_STATES:
        raise StateConflict(
            f"Only open sample advice takes a decision; this one is {advice.state}."
        )
    before = audit.snapshot(advice)
    advice.state = Advice.State.ACCEPTED if decision == "accepted" else Advice.State.REJECTED
    advice.rejection_reason = reason if decision == "rejected" else ""
    advice.decided_at = timezone.now()
    advice.save(update_fields=["state", "rejection_reason", "decided_at", "updated_at"])
    audit.record(
        actor=actor,
        actor_username="system",
        action=AuditEvent.Action.ACCEPT if decision == "accepted" else AuditEvent.Action.REJECT,
        instance=advice,
        before=before,
        detail="imported decision",
    )
    return advice


def _service(path: str, service: Callable[..., Any], **arguments: Any) -> Any:
    """Call a service; a refusal the checks did not foresee still names the file's path (and,
    raised inside the import's transaction, undoes the whole import)."""
    try:
        return service(**arguments)
    except ValidationError as error:
        if hasattr(error, "error_dict"):
            problems = error.message_dict
        else:
            problems = {NON_FIELD_ERRORS: error.messages}
        raise CohortInvalid(
            [
                CohortError(
                    path
                    if key == NON_FIELD_ERRORS
                    else f"{path}.{_FILE_KEY_OF_FIELD.get(key, key)}",
                    message,
                )
                for key, messages in problems.items()
                for message in messages
            ]
        ) from None
    except StateConflict as conflict:
        # E.g. a sample that repeats another one: the file holds it twice.
        raise CohortInvalid([CohortError(path, str(conflict))]) from None


def _site_get_or_create(code: str, name: str, actor: AbstractBaseUser | None) -> tuple[Site, bool]:
    site, created = Site.objects.get_or_create(code=code, defaults={"name": name})
    if created:
        audit.record(
            actor=actor,
            actor_username="system",
            action=AuditEvent.Action.CREATE,
            instance=site,
            detail="cohort import",
        )
    return site, created


def _regimen_fields(dose: DoseRecord) -> dict[str, Any]:
    """What a regimen service takes of a dose of the file."""
    return {
        "effective_from": dose.effective_from,
        "daily_dose_mg": dose.daily_dose_mg,
        "administrations_per_day": dose.administrations_per_day,
        "reason": dose.reason,
        "off_label_reason": dose.off_label_reason,
    }


def _treatment_import(
    path: str, record: TreatmentRecord, patient: Patient, actor: AbstractBaseUser | None
) -> None:
    live = [dose for dose in record.doses if dose.status == DoseRegimen.Status.ACTIVE]
    first, *changes = live  # in date order, the first one the start (checked)
    treatment = _service(
        f"{path}.doses[{first.index}]",
        services.treatment_create,
        actor=actor,
        patient=patient,
        drug=record.drug,
        start_date=record.start_date,
        daily_dose_mg=first.daily_dose_mg,
        administrations_per_day=first.administrations_per_day,
        off_label_reason=first.off_label_reason,
        overlap_reason=record.overlap_reason,
    )
    for dose in (dose for dose in record.doses if dose.status != DoseRegimen.Status.ACTIVE):
        # Kept for the record, as the file has it; never live, so it does not collide with the
        # dose that replaced it.
        _service(
            f"{path}.doses[{dose.index}]",
            services.dose_regimen_record_retired,
            actor=actor,
            treatment=treatment,
            **_regimen_fields(dose),
            status=dose.status,
            status_reason=dose.status_reason,
        )
    for dose in changes:
        _service(
            f"{path}.doses[{dose.index}]",
            services.dose_regimen_create,
            actor=actor,
            treatment=treatment,
            **_regimen_fields(dose),
        )
    if record.stop_date is not None:
        _service(
            path,
            services.treatment_stop,
            actor=actor,
            treatment=treatment,
            stop_date=record.stop_date,
            reason=record.stop_reason or NOT_STATED,
        )
    decisions = {decision.sample_drawn_at: decision for decision in record.decisions}
    # In the order they happened, as if logged live: an AE is logged on its onset day before a
    # sample drawn that day (it is active at the draw), samples in draw order so that each one's
    # advice supersedes the open advice of the one before, unless the file decided on that.
    timeline: list[tuple[tuple, AdverseEventRecord | SampleRecord]] = [
        ((event.onset, 0, event.index), event) for event in record.adverse_events
    ] + [
        ((timezone.localdate(sample.drawn_at), 1, sample.drawn_at, sample.index), sample)
        for sample in record.samples
    ]
    for _, entry in sorted(timeline, key=lambda item: item[0]):
        if isinstance(entry, AdverseEventRecord):
            term = ctcae.find_term(entry.term)
            needs_text = term is not None and term.is_other_specify
            event = _service(
                f"{path}.adverse_events[{entry.index}]",
                services.adverse_event_record,
                actor=actor,
                treatment=treatment,
                term=entry.term,
                grade=entry.grade,
                onset=entry.onset,
                resolved=entry.resolved,
                related=entry.related,
                action=entry.action,
                other_specify=entry.other_specify or (NOT_STATED if needs_text else ""),
            )
            advice_services.advice_create_for_adverse_event(event_id=event.pk)
            continue
        sample = _service(
            f"{path}.samples[{entry.index}]",
            services.sample_record,
            actor=actor,
            treatment=treatment,
            drawn_at=entry.drawn_at,
            last_dose_at=entry.last_dose_at,
            concentration=entry.concentration,
            unit=entry.unit,
            below_lloq=entry.below_lloq,
            analytes=dict(entry.analytes) or None,
            confirm_implausible=entry.confirmed_implausible,
        )
        advice = advice_services.advice_create_for_sample(sample_id=sample.pk)
        decision = decisions.get(entry.drawn_at)
        if decision is not None:
            # The checks made sure a decided sample has advice: a result and a dose that day.
            advice_import_decision(
                actor=actor, advice=advice, decision=decision.decision, reason=decision.reason
            )


def import_cohort(document: object, *, actor: AbstractBaseUser | None = None) -> ImportResult:
    """Import a cohort document (parsed JSON) or raise `CohortInvalid` with every problem.

    Idempotent by study number: a patient already here and identical is skipped; one that
    differs is a problem (nothing is overwritten). Everything else is imported in one
    transaction through the services, so the audit trail records each row.
    """
    plan = _Checker(now=timezone.now()).document(document)
    if plan.errors:
        raise CohortInvalid(plan.errors)
    created: list[str] = []
    with transaction.atomic():
        sites = {}
        for code, name in sorted(plan.sites.items()):
            sites[code], was_created = _site_get_or_create(code, name, actor)
            if was_created:
                created.append(code)
        for record in plan.new_patients:
            path = f"patients[{record.index}]"
            site = sites.get(record.site_code) or Site.objects.get(code=record.site_code)
            patient = _service(
                path,
                services.patient_create,
                actor=actor,
                site=site,
                study_number=record.study_number,
                sex=record.sex,
                birth_year=record.birth_year,
                tumour=record.tumour,
                tumour_code=record.tumour_code,
                name=record.name,
                record_number=record.record_number,
            )
            for treatment in by_start(record.treatments):
                _treatment_import(
                    f"{path}.treatments[{treatment.index}]", treatment, patient, actor
                )
    return ImportResult(
        imported=tuple(record.study_number for record in plan.new_patients),
        unchanged=tuple(plan.unchanged),
        sites_created=tuple(created),
    )
