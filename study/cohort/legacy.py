"""The cohort file of SPEC §11: the same format out (`export_study --format json`) and in
(`import_cohort`), so a study can move between installations and an export can be re-imported.

Export streams the document patient by patient, in batches, so memory does not grow with the
cohort, and pseudonymises it with a `Pseudonymiser`; names, record numbers and free text never
leave. Import checks the whole document first and reports every problem with its JSON path;
only a valid document is imported, in one transaction, through the services live entry uses,
so every sample's Ctrough and advice are computed as if it had been logged live. A patient whose
study number is already here is skipped when it is identical and an error when it is not.
docs/cohort-format.md describes every field.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import DecimalValidator
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from advice.engine import ctcae
from advice.engine.case_input import json_number, parse_date, parse_datetime
from advice.engine.errors import InputError
from advice.engine.units import (
    MAX_PLAUSIBLE_NG_ML,
    NG_PER_ML,
    canonical_unit,
    parse_number,
    to_ng_ml,
)
from cases import audit, services, workflow
from cases.errors import StateConflict
from cases.models import (
    AdverseEvent,
    Advice,
    AuditEvent,
    DoseRegimen,
    Drug,
    Patient,
    Sample,
    Site,
    Treatment,
)
from cases.models.patients import EARLIEST_BIRTH_YEAR, study_number_validator
from cases.models.sites import site_code_validator
from cases.study.pseudonym import Pseudonymiser

FORMAT = "etdm-cohort/1"
BATCH_SIZE = 500
# Stored where the file leaves out a text the services require (a stop reason, the description
# of an "Other, specify" AE): exports never carry free text, and their re-import must work.
NOT_STATED = "not stated in the cohort file"
# Written instead of the reason of an off-label dose or a rejected advice: the fact matters for
# the study (and lets the record be re-imported), the free text may name people.
WITHHELD = "withheld from the export"
DECISIONS = ("accepted", "rejected")
EXPORTED_SAMPLE_STATES = (Sample.Status.DRAWN, Sample.Status.RESULTED)

# JSON keys of each object and whether they are required.
_DOCUMENT_KEYS = {"format": True, "exported_at": False, "sites": True, "patients": True}
_SITE_KEYS = {"code": True, "name": True}
_PATIENT_KEYS = {
    "study_number": True,
    "site": True,
    "sex": True,
    "birth_year": True,
    "tumour": True,
    "tumour_code": False,
    "name": False,
    "record_number": False,
    "treatments": True,
}
_TREATMENT_KEYS = {
    "drug": True,
    "indication": False,
    "start_date": True,
    "stop_date": False,
    "stop_reason": False,
    "doses": True,
    "samples": False,
    "adverse_events": False,
    "decisions": False,
}
_DOSE_KEYS = {
    "from": True,
    "daily_dose_mg": True,
    "administrations_per_day": True,
    "reason": True,
    "off_label_reason": False,
}
_SAMPLE_KEYS = {
    "drawn_at": True,
    "last_dose_at": False,
    "concentration": False,
    "unit": False,
    "below_lloq": False,
    "analytes": False,
}
_AE_KEYS = {
    "term": True,
    "grade": True,
    "onset": True,
    "resolved": False,
    "related": True,
    "action": False,
    "other_specify": False,
}
_DECISION_KEYS = {"sample_drawn_at": True, "decision": True, "reason": False}

# Digits the database columns hold (cases.models DOSE and CONCENTRATION).
_DOSE_DIGITS = (8, 2)
_CONCENTRATION_DIGITS = (14, 4)
# Service error fields that the cohort file spells differently (the ng/mL value is computed from
# the file's concentration).
_FILE_KEY_OF_FIELD = {"effective_from": "from", "concentration_ng_ml": "concentration"}


@dataclass(frozen=True)
class CohortError:
    """One problem in a cohort file: where (`patients[2].treatments[0].samples[1].drawn_at`)
    and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


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


# Records: one patient's data as plain values, read from a file or from the database --------------
# `index` is the record's position in its list in the file (or in the database's order); error
# paths use it, whatever order the records are compared or imported in.


@dataclass(frozen=True)
class DoseRecord:
    index: int
    effective_from: dt.date
    daily_dose_mg: Decimal
    administrations_per_day: int
    reason: str
    off_label_reason: str


@dataclass(frozen=True)
class SampleRecord:
    index: int
    drawn_at: dt.datetime
    last_dose_at: dt.datetime | None
    concentration: Decimal | None
    unit: str
    below_lloq: bool
    analytes: Mapping[str, Decimal]


@dataclass(frozen=True)
class AdverseEventRecord:
    index: int
    term: str
    grade: int
    onset: dt.date
    resolved: dt.date | None
    related: bool
    action: str
    other_specify: str


@dataclass(frozen=True)
class DecisionRecord:
    index: int
    sample_drawn_at: dt.datetime
    decision: str
    reason: str


@dataclass(frozen=True)
class TreatmentRecord:
    index: int
    drug: Drug
    start_date: dt.date
    stop_date: dt.date | None
    stop_reason: str
    doses: tuple[DoseRecord, ...]
    samples: tuple[SampleRecord, ...]
    adverse_events: tuple[AdverseEventRecord, ...]
    decisions: tuple[DecisionRecord, ...]


@dataclass(frozen=True)
class PatientRecord:
    index: int
    study_number: str
    site_code: str
    sex: str
    birth_year: int
    tumour: str
    tumour_code: str
    name: str
    record_number: str
    treatments: tuple[TreatmentRecord, ...]


# Writing records as cohort JSON ------------------------------------------------------------------


@dataclass(frozen=True)
class _PatientDates:
    """One patient's dates and times as written: shifted by the patient's offset (if any), times
    in the installation's UTC offset."""

    pseudonymiser: Pseudonymiser
    study_number: str

    def day(self, value: dt.date | None) -> str | None:
        shifted = self.pseudonymiser.date(self.study_number, value)
        return shifted.isoformat() if shifted is not None else None

    def moment(self, value: dt.datetime | None) -> str | None:
        if value is None:
            return None
        shifted = self.pseudonymiser.datetime(self.study_number, timezone.localtime(value))
        return shifted.isoformat() if shifted is not None else None


def _dose_json(dose: DoseRecord, dates: _PatientDates) -> dict[str, Any]:
    written: dict[str, Any] = {
        "from": dates.day(dose.effective_from),
        "daily_dose_mg": json_number(dose.daily_dose_mg),
        "administrations_per_day": dose.administrations_per_day,
        "reason": dose.reason,
    }
    if dose.off_label_reason:
        written["off_label_reason"] = WITHHELD
    return written


def _sample_json(sample: SampleRecord, dates: _PatientDates) -> dict[str, Any]:
    written: dict[str, Any] = {
        "drawn_at": dates.moment(sample.drawn_at),
        "last_dose_at": dates.moment(sample.last_dose_at),
        "concentration": json_number(sample.concentration),
        "unit": sample.unit if sample.concentration is not None else None,
        "below_lloq": sample.below_lloq,
    }
    if sample.analytes:
        written["analytes"] = {
            name: json_number(value) for name, value in sorted(sample.analytes.items())
        }
    return written


def _adverse_event_json(event: AdverseEventRecord, dates: _PatientDates) -> dict[str, Any]:
    return {
        "term": event.term,
        "grade": event.grade,
        "onset": dates.day(event.onset),
        "resolved": dates.day(event.resolved),
        "related": event.related,
        "action": event.action,
    }


def _decision_json(decision: DecisionRecord, dates: _PatientDates) -> dict[str, Any]:
    return {
        "sample_drawn_at": dates.moment(decision.sample_drawn_at),
        "decision": decision.decision,
        # A rejection has a reason (and needs one to be re-imported); its text may name people.
        "reason": WITHHELD if decision.decision == "rejected" else None,
    }


# The lists of a treatment: key, writer, and the date they are ordered by (ties keep the order
# they come in: database id, or file position).
_TREATMENT_LISTS: tuple[tuple[str, Callable[[Any, _PatientDates], dict], Callable], ...] = (
    ("doses", _dose_json, lambda dose: dose.effective_from),
    ("samples", _sample_json, lambda sample: sample.drawn_at),
    ("adverse_events", _adverse_event_json, lambda event: event.onset),
    ("decisions", _decision_json, lambda decision: decision.sample_drawn_at),
)


def _treatment_fields_json(treatment: TreatmentRecord, dates: _PatientDates) -> dict[str, Any]:
    return {
        "drug": treatment.drug.name,
        "indication": treatment.drug.indication or None,
        "start_date": dates.day(treatment.start_date),
        "stop_date": dates.day(treatment.stop_date),
        # Free text: never exported (it may name people or places).
        "stop_reason": None,
    }


def _treatment_json(treatment: TreatmentRecord, dates: _PatientDates) -> dict[str, Any]:
    written = _treatment_fields_json(treatment, dates)
    for key, write, order in _TREATMENT_LISTS:
        written[key] = [write(item, dates) for item in sorted(getattr(treatment, key), key=order)]
    return written


def _patient_fields_json(patient: PatientRecord, pseudonymiser: Pseudonymiser) -> dict[str, Any]:
    written: dict[str, Any] = {
        "study_number": pseudonymiser.study_number(patient.study_number),
        "site": patient.site_code,
        "sex": patient.sex,
        "birth_year": pseudonymiser.birth_year(patient.study_number, patient.birth_year),
        "tumour": patient.tumour,
    }
    if patient.tumour_code:
        written["tumour_code"] = patient.tumour_code
    return written


def _by_start(treatments: Iterable[TreatmentRecord]) -> list[TreatmentRecord]:
    return sorted(treatments, key=lambda treatment: treatment.start_date)


def patient_json(patient: PatientRecord, pseudonymiser: Pseudonymiser) -> dict[str, Any]:
    """One patient as the cohort file writes it (never with name or record number)."""
    dates = _PatientDates(pseudonymiser, patient.study_number)
    written = _patient_fields_json(patient, pseudonymiser)
    written["treatments"] = [_treatment_json(t, dates) for t in _by_start(patient.treatments)]
    return written


# Reading records from the database ---------------------------------------------------------------


def _with_history(patients: QuerySet[Patient]) -> QuerySet[Patient]:
    """Patients with everything the cohort file holds, in a fixed number of queries."""
    return patients.select_related("site").prefetch_related(
        Prefetch(
            "treatments",
            queryset=Treatment.objects.select_related("drug").order_by("start_date", "pk"),
        ),
        Prefetch(
            "treatments__regimens", queryset=DoseRegimen.objects.order_by("effective_from", "pk")
        ),
        Prefetch(
            "treatments__samples",
            queryset=Sample.objects.filter(status__in=EXPORTED_SAMPLE_STATES).order_by(
                "drawn_at", "pk"
            ),
            to_attr="exported_samples",
        ),
        Prefetch(
            "treatments__adverse_events",
            queryset=AdverseEvent.objects.filter(entered_in_error=False).order_by("onset", "pk"),
            to_attr="exported_adverse_events",
        ),
        Prefetch(
            "treatments__advice",
            queryset=Advice.objects.filter(
                kind=Advice.Kind.SAMPLE,
                state__in=[Advice.State.ACCEPTED, Advice.State.REJECTED],
                sample__status__in=EXPORTED_SAMPLE_STATES,
            )
            .select_related("sample")
            .order_by("sample__drawn_at", "pk"),
            to_attr="decided_advice",
        ),
    )


def _treatment_record(treatment: Treatment, index: int) -> TreatmentRecord:
    return TreatmentRecord(
        index=index,
        drug=treatment.drug,
        start_date=treatment.start_date,
        stop_date=treatment.stop_date,
        stop_reason=treatment.stop_reason,
        doses=tuple(
            DoseRecord(
                index=position,
                effective_from=regimen.effective_from,
                daily_dose_mg=regimen.daily_dose_mg,
                administrations_per_day=regimen.administrations_per_day,
                reason=regimen.reason,
                off_label_reason=regimen.off_label_reason,
            )
            for position, regimen in enumerate(treatment.regimens.all())
        ),
        samples=tuple(
            SampleRecord(
                index=position,
                drawn_at=sample.drawn_at,
                last_dose_at=sample.last_dose_at,
                concentration=sample.concentration,
                unit=sample.unit,
                below_lloq=sample.below_lloq,
                analytes={name: Decimal(str(value)) for name, value in sample.analytes.items()},
            )
            for position, sample in enumerate(treatment.exported_samples)
        ),
        adverse_events=tuple(
            AdverseEventRecord(
                index=position,
                term=event.term,
                grade=event.grade,
                onset=event.onset,
                resolved=event.resolved,
                related=event.related,
                action=event.action,
                other_specify=event.other_specify,
            )
            for position, event in enumerate(treatment.exported_adverse_events)
        ),
        decisions=tuple(
            DecisionRecord(
                index=position,
                sample_drawn_at=advice.sample.drawn_at,
                decision=advice.state,
                reason=advice.rejection_reason,
            )
            for position, advice in enumerate(treatment.decided_advice)
        ),
    )


def _patient_record(patient: Patient) -> PatientRecord:
    """A patient loaded through `_with_history` as a record."""
    return PatientRecord(
        index=0,
        study_number=patient.study_number,
        site_code=patient.site.code,
        sex=patient.sex,
        birth_year=patient.birth_year,
        tumour=patient.tumour,
        tumour_code=patient.tumour_code,
        name=patient.name,
        record_number=patient.record_number,
        treatments=tuple(
            _treatment_record(treatment, position)
            for position, treatment in enumerate(patient.treatments.all())
        ),
    )


# Export ------------------------------------------------------------------------------------------


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def iter_cohort_json(
    *,
    pseudonymiser: Pseudonymiser,
    progress: Callable[[int, int], None] | None = None,
    exported_at: dt.datetime | None = None,
) -> Iterator[str]:
    """The whole cohort as the SPEC §11 document, in chunks of text (one patient per line).

    Sites by code, patients by (exported) study number, everything within a treatment by date
    then id: two exports of the same data differ in `exported_at` only. `progress(done, total)`
    is told the patients written after every batch.
    """
    exported_at = exported_at or timezone.now()
    sites = [{"code": site.code, "name": site.name} for site in Site.objects.order_by("code")]
    yield (
        f'{{"format": {_dumps(FORMAT)}, '
        f'"exported_at": {_dumps(timezone.localtime(exported_at).isoformat())},\n'
        f' "sites": {_dumps(sites)},\n "patients": ['
    )
    # Ordered by the study number as exported: ordering pseudonyms by the real numbers would
    # leak the order of enrolment. Only (pseudonym, id) pairs are held for the whole cohort.
    order = sorted(
        (pseudonymiser.study_number(study_number), pk)
        for pk, study_number in Patient.objects.values_list("pk", "study_number")
    )
    total = len(order)
    written = 0
    if progress is not None:
        progress(written, total)
    for start in range(0, total, BATCH_SIZE):
        batch = [pk for _, pk in order[start : start + BATCH_SIZE]]
        loaded = {
            patient.pk: patient for patient in _with_history(Patient.objects.filter(pk__in=batch))
        }
        for pk in batch:
            patient = loaded.get(pk)
            if patient is None:
                # Deleted (by an admin) since the listing: an export takes a while.
                continue
            document = patient_json(_patient_record(patient), pseudonymiser)
            yield ("\n  " if written == 0 else ",\n  ") + _dumps(document)
            written += 1
        if progress is not None:
            progress(written, total)
    yield "\n ]}\n"


def write_cohort_json(
    path: Path,
    *,
    pseudonymiser: Pseudonymiser,
    progress: Callable[[int, int], None] | None = None,
    exported_at: dt.datetime | None = None,
) -> int:
    """Write the cohort to `path` (complete or not at all); returns the patients written."""
    path = Path(path)
    written = 0

    def track(done: int, total: int) -> None:
        nonlocal written
        written = done
        if progress is not None:
            progress(done, total)

    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed before the rename below
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
    )
    try:
        with handle:
            for chunk in iter_cohort_json(
                pseudonymiser=pseudonymiser, progress=track, exported_at=exported_at
            ):
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        # A reader sees the old file or the whole new one, never half an export.
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return written


# Reading values from the file ---------------------------------------------------------------------
# Each reader takes the JSON value and its path and raises InputError naming the path.


def _text(value: object, path: str, max_length: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(path, f"must be a non-empty string, not {value!r}")
    if len(value.strip()) > max_length:
        raise InputError(path, f"must be at most {max_length} characters")
    return value.strip()


def _optional_text(value: object, path: str, max_length: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(path, f"must be a string or null, not {value!r}")
    if len(value.strip()) > max_length:
        raise InputError(path, f"must be at most {max_length} characters")
    return value.strip()


def _choice(value: object, path: str, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise InputError(path, f"must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _optional_choice(value: object, path: str, allowed: Sequence[str]) -> str:
    return "" if value is None else _choice(value, path, allowed)


def _whole(value: object, path: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(path, f"must be a whole number from {low} to {high}, not {value!r}")
    return value


def _flag(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise InputError(path, f"must be true or false, not {value!r}")
    return value


def _optional_flag(value: object, path: str) -> bool:
    return False if value is None else _flag(value, path)


def _number(value: object, path: str, digits: tuple[int, int]) -> Decimal:
    number = parse_number(value, field=path)
    try:
        # Normalised first: 600.000 is 600 and fits a column with 2 decimal places.
        DecimalValidator(*digits)(number.normalize())
    except ValidationError as error:
        raise InputError(path, error.messages[0]) from None
    return number


def _optional_number(value: object, path: str, digits: tuple[int, int]) -> Decimal | None:
    return None if value is None else _number(value, path, digits)


def _optional_date(value: object, path: str) -> dt.date | None:
    return None if value is None else parse_date(value, path)


def _optional_datetime(value: object, path: str) -> dt.datetime | None:
    return None if value is None else parse_datetime(value, path)


def _list(value: object, path: str) -> list:
    if not isinstance(value, list):
        raise InputError(path, "must be a list")
    return value


def _optional_list(value: object, path: str) -> list:
    return [] if value is None else _list(value, path)


def _validated(validator: Callable[[str], None], value: object, path: str) -> str:
    if not isinstance(value, str):
        raise InputError(path, f"must be a string, not {value!r}")
    try:
        validator(value.strip())
    except ValidationError as error:
        raise InputError(path, error.messages[0]) from None
    return value.strip()


def _study_number(value: object, path: str) -> str:
    return _validated(study_number_validator, value, path)


def _site_code(value: object, path: str) -> str:
    return _validated(site_code_validator, value, path)


def _unit(value: object, path: str) -> str | None:
    return None if value is None else canonical_unit(value, field=path)


def _analytes(value: object, path: str) -> dict[str, Decimal]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(path, "must be an object of analyte name → concentration in ng/mL")
    analytes = {}
    for name, amount in value.items():
        number = _number(amount, f"{path}.{name}", _CONCENTRATION_DIGITS)
        if number < 0:
            raise InputError(f"{path}.{name}", "must not be negative")
        analytes[name] = number
    return analytes


def _path(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


class _Invalid:
    """What a field reader returns for a value it reported as bad."""


_INVALID = _Invalid()


class _Fields:
    """Reads the fields of one JSON object, reporting each bad one."""

    def __init__(self, checker: _Checker, raw: Mapping, path: str, keys: Mapping[str, bool]):
        self.checker = checker
        self.raw = raw
        self.path = path
        self.keys = keys

    def __call__(self, key: str, read: Callable[..., Any], *args: object) -> Any:
        path = _path(self.path, key)
        if key not in self.raw:
            if self.keys[key]:
                self.checker.error(path, "is required")
                return _INVALID
            value = None
        else:
            value = self.raw[key]
        try:
            return read(value, path, *args)
        except InputError as error:
            self.checker.error(error.field, error.message)
            return _INVALID


def _valid(*values: object) -> bool:
    return not any(value is _INVALID for value in values)


# Checking the whole document ----------------------------------------------------------------------


@dataclass
class _Plan:
    """What checking a document found: its problems, and what to import when there are none."""

    errors: list[CohortError]
    sites: dict[str, str]  # code → name, as listed in the file
    new_patients: list[PatientRecord]
    unchanged: list[str]


def _chunks(values: Sequence[str], size: int = BATCH_SIZE) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class _Checker:
    """Walks a cohort document, collecting every problem and the records of valid patients."""

    def __init__(self, *, now: dt.datetime) -> None:
        self.errors: list[CohortError] = []
        self.now = now
        self.today = timezone.localdate(now)
        self.catalogue: dict[str, list[Drug]] = {}
        for drug in Drug.objects.order_by("name", "indication"):
            self.catalogue.setdefault(drug.name.lower(), []).append(drug)

    def error(self, path: str, message: str) -> None:
        self.errors.append(CohortError(path, message))

    def fields(self, value: object, path: str, keys: Mapping[str, bool]) -> _Fields | None:
        if not isinstance(value, Mapping):
            self.error(path or "document", "must be a JSON object")
            return None
        for key in value:
            if key not in keys:
                self.error(_path(path, key), f"unknown field; expected one of {', '.join(keys)}")
        return _Fields(self, value, path, keys)

    def items(self, fields: _Fields, key: str, *, required: bool) -> list[tuple[int, object]]:
        values = fields(key, _list if required else _optional_list)
        return [] if values is _INVALID else list(enumerate(values))

    # The document -----------------------------------------------------------------------------

    def document(self, document: object) -> _Plan:
        plan = _Plan(errors=self.errors, sites={}, new_patients=[], unchanged=[])
        fields = self.fields(document, "", _DOCUMENT_KEYS)
        if fields is None:
            return plan
        fields("format", _choice, (FORMAT,))
        fields("exported_at", _optional_datetime)
        plan.sites = self.sites(self.items(fields, "sites", required=True))
        raw_patients = self.items(fields, "patients", required=True)
        self.patients(raw_patients, plan)
        return plan

    def sites(self, raw_sites: list[tuple[int, object]]) -> dict[str, str]:
        listed: dict[str, str] = {}
        paths: dict[str, str] = {}
        for index, raw in raw_sites:
            path = f"sites[{index}]"
            fields = self.fields(raw, path, _SITE_KEYS)
            if fields is None:
                continue
            code = fields("code", _site_code)
            name = fields("name", _text, 200)
            if not _valid(code, name):
                continue
            if code in listed:
                self.error(f"{path}.code", f"{code} is listed twice (also {paths[code]})")
                continue
            listed[code] = name
            paths[code] = path
        for site in Site.objects.filter(code__in=list(listed)):
            if site.name != listed[site.code]:
                # A code naming another hospital here would put patients at the wrong site.
                self.error(
                    f"{paths[site.code]}.name",
                    f"site {site.code} exists here as {site.name!r}, not {listed[site.code]!r}",
                )
        return listed

    def patients(self, raw_patients: list[tuple[int, object]], plan: _Plan) -> None:
        study_numbers = sorted(
            {
                raw["study_number"].strip()
                for _, raw in raw_patients
                if isinstance(raw, Mapping) and isinstance(raw.get("study_number"), str)
            }
        )
        existing: dict[str, Patient] = {}
        for chunk in _chunks(study_numbers):
            for patient in _with_history(Patient.objects.filter(study_number__in=chunk)):
                existing[patient.study_number] = patient
        known_sites = set(plan.sites) | set(Site.objects.values_list("code", flat=True))
        seen: dict[str, str] = {}
        new_records: list[tuple[str, PatientRecord]] = []
        for index, raw in raw_patients:
            path = f"patients[{index}]"
            errors_before = len(self.errors)
            number = raw.get("study_number") if isinstance(raw, Mapping) else None
            if isinstance(number, str) and number.strip() in seen:
                self.error(
                    f"{path}.study_number",
                    f"{number.strip()} is also the study number of {seen[number.strip()]}",
                )
            elif isinstance(number, str):
                seen[number.strip()] = path
            record = self.patient(raw, path, index, known_sites)
            if record is None or len(self.errors) > errors_before:
                continue
            stored = existing.get(record.study_number)
            if stored is None:
                new_records.append((path, record))
                continue
            differences = _differences(path, record, _patient_record(stored))
            if differences:
                self.errors.extend(differences)
            else:
                plan.unchanged.append(record.study_number)
        self.record_numbers(new_records)
        plan.new_patients = [record for _, record in new_records]

    def record_numbers(self, new_records: list[tuple[str, PatientRecord]]) -> None:
        """A hospital record number identifies one patient at its site (a database constraint)."""
        numbered = [(path, r) for path, r in new_records if r.record_number]
        taken: dict[tuple[str, str], str] = {}
        for chunk in _chunks(sorted({r.record_number for _, r in numbered})):
            for code, number, study_number in Patient.objects.filter(
                record_number__in=chunk
            ).values_list("site__code", "record_number", "study_number"):
                taken[(code, number)] = f"patient {study_number} in the database"
        for path, record in numbered:
            key = (record.site_code, record.record_number)
            if key in taken:
                self.error(
                    f"{path}.record_number",
                    f"record number {record.record_number} at {record.site_code} is already "
                    f"that of {taken[key]}",
                )
            else:
                taken[key] = path

    # One patient ------------------------------------------------------------------------------

    def patient(
        self, raw: object, path: str, index: int, known_sites: set[str]
    ) -> PatientRecord | None:
        fields = self.fields(raw, path, _PATIENT_KEYS)
        if fields is None:
            return None
        study_number = fields("study_number", _study_number)
        site_code = fields("site", _text, 20)
        if _valid(site_code) and site_code not in known_sites:
            self.error(
                f"{path}.site", f"unknown site {site_code!r}: list it in `sites` or create it first"
            )
            site_code = _INVALID
        sex = fields("sex", _choice, Patient.Sex.values)
        birth_year = fields("birth_year", _whole, EARLIEST_BIRTH_YEAR, self.today.year)
        tumour = fields("tumour", _text, 200)
        tumour_code = fields("tumour_code", _optional_text, 20)
        name = fields("name", _optional_text, 200)
        record_number = fields("record_number", _optional_text, 40)
        treatments = []
        for position, raw_treatment in self.items(fields, "treatments", required=True):
            treatment = self.treatment(
                raw_treatment,
                f"{path}.treatments[{position}]",
                position,
                birth_year if _valid(birth_year) else None,
            )
            treatments.append(treatment)
        values = (study_number, site_code, sex, birth_year, tumour, tumour_code, name)
        if not _valid(*values, record_number, *treatments):
            return None
        return PatientRecord(
            index=index,
            study_number=study_number,
            site_code=site_code,
            sex=sex,
            birth_year=birth_year,
            tumour=tumour,
            tumour_code=tumour_code,
            name=name,
            record_number=record_number,
            treatments=tuple(treatments),
        )

    def drug(self, fields: _Fields, path: str) -> Drug | _Invalid:
        name = fields("drug", _text, 60)
        indication = fields("indication", _optional_text, 40)
        if not _valid(name, indication):
            return _INVALID
        rows = self.catalogue.get(name.lower())
        if not rows:
            self.error(
                f"{path}.drug", f"unknown drug {name!r}: not in this installation's catalogue"
            )
            return _INVALID
        if len(rows) == 1 and not rows[0].indication:
            if indication:
                self.error(
                    f"{path}.indication", f"{rows[0].name} has no indication variants; give null"
                )
                return _INVALID
            return rows[0]
        for row in rows:
            if row.indication.lower() == indication.lower():
                return row
        variants = ", ".join(row.indication for row in rows)
        problem = "is required" if not indication else f"{indication!r} is not valid"
        self.error(f"{path}.indication", f"{problem} for {rows[0].name}; use one of {variants}")
        return _INVALID

    def treatment(
        self, raw: object, path: str, index: int, birth_year: int | None
    ) -> TreatmentRecord | _Invalid:
        fields = self.fields(raw, path, _TREATMENT_KEYS)
        if fields is None:
            return _INVALID
        errors_before = len(self.errors)
        drug = self.drug(fields, path)
        start = fields("start_date", parse_date)
        stop = fields("stop_date", _optional_date)
        stop_reason = fields("stop_reason", _optional_text, 200)
        if _valid(start) and birth_year is not None and start.year < birth_year:
            self.error(f"{path}.start_date", "is before the patient's birth year")
        if _valid(start, stop) and stop is not None and stop < start:
            self.error(f"{path}.stop_date", "is before the start date")
            stop = _INVALID
        # Checks against the start or stop date are left out where that date is bad itself.
        start_day = start if _valid(start) else None
        stop_day = stop if _valid(stop) else None
        molar_mass = None if isinstance(drug, _Invalid) else drug.molar_mass_g_mol
        doses = self.doses(fields, path, drug, start_day, stop_day)
        samples = [
            self.sample(raw_sample, f"{path}.samples[{position}]", position, start_day, stop_day)
            for position, raw_sample in self.items(fields, "samples", required=False)
        ]
        for sample in samples:
            if _valid(sample, molar_mass):
                self.plausible(f"{path}.samples[{sample.index}]", sample, molar_mass)
        self.unique_draw_times(path, samples)
        events = [
            self.adverse_event(raw_event, f"{path}.adverse_events[{position}]", position, start_day)
            for position, raw_event in self.items(fields, "adverse_events", required=False)
        ]
        decisions = self.decisions(fields, path, samples, doses)
        if len(self.errors) > errors_before or not _valid(drug, start, stop, stop_reason, doses):
            return _INVALID
        return TreatmentRecord(
            index=index,
            drug=drug,
            start_date=start,
            stop_date=stop,
            stop_reason=stop_reason,
            doses=tuple(doses),
            samples=tuple(samples),
            adverse_events=tuple(events),
            decisions=tuple(decisions),
        )

    def doses(
        self,
        fields: _Fields,
        path: str,
        drug: Drug | _Invalid,
        start: dt.date | None,
        stop: dt.date | None,
    ) -> list[DoseRecord] | _Invalid:
        """The dose history; `_INVALID` when any dose is bad."""
        errors_before = len(self.errors)
        raw_doses = self.items(fields, "doses", required=True)
        if fields.raw.get("doses") == []:
            self.error(f"{path}.doses", "must hold at least the starting dose")
        doses: list[DoseRecord] = []
        previous: dt.date | None = None
        for position, raw in raw_doses:
            dose_path = f"{path}.doses[{position}]"
            dose_fields = self.fields(raw, dose_path, _DOSE_KEYS)
            if dose_fields is None:
                previous = None
                continue
            dose_errors_before = len(self.errors)
            effective_from = dose_fields("from", parse_date)
            daily = dose_fields("daily_dose_mg", _number, _DOSE_DIGITS)
            administrations = dose_fields("administrations_per_day", _whole, 1, 4)
            reason = dose_fields("reason", _choice, DoseRegimen.Reason.values)
            off_label_reason = dose_fields("off_label_reason", _optional_text, 200)
            if _valid(effective_from):
                self.dose_date(dose_path, position, effective_from, previous, start, stop)
                previous = effective_from
            else:
                previous = None
            if _valid(reason):
                self.dose_reason(dose_path, position, reason, daily)
            if _valid(daily, administrations, off_label_reason) and not isinstance(drug, _Invalid):
                self.dose_amount(
                    dose_path, position, drug, daily, administrations, off_label_reason
                )
            if len(self.errors) == dose_errors_before:
                doses.append(
                    DoseRecord(
                        index=position,
                        effective_from=effective_from,
                        daily_dose_mg=daily,
                        administrations_per_day=administrations,
                        reason=reason,
                        off_label_reason=off_label_reason,
                    )
                )
        return doses if len(self.errors) == errors_before else _INVALID

    def dose_date(
        self,
        path: str,
        position: int,
        effective_from: dt.date,
        previous: dt.date | None,
        start: dt.date | None,
        stop: dt.date | None,
    ) -> None:
        if position == 0:
            if start is not None and effective_from != start:
                self.error(f"{path}.from", f"the first dose starts on the start date ({start})")
            return
        if previous is not None and effective_from <= previous:
            self.error(f"{path}.from", f"must be after the previous dose's date ({previous})")
        elif start is not None and effective_from < start:
            self.error(f"{path}.from", f"is before the start date ({start})")
        if stop is not None and effective_from >= stop:
            self.error(f"{path}.from", f"is on or after the stop date ({stop})")

    def dose_reason(self, path: str, position: int, reason: str, daily: object) -> None:
        if position == 0:
            if reason != DoseRegimen.Reason.START:
                self.error(f"{path}.reason", "the first dose has reason start")
            return
        interruption = reason == DoseRegimen.Reason.INTERRUPTION
        if reason == DoseRegimen.Reason.START:
            self.error(f"{path}.reason", "only the first dose has reason start")
        elif isinstance(daily, Decimal) and (daily == 0) != interruption:
            self.error(f"{path}.reason", "a dose of 0 mg/day is an interruption, and only that")

    def dose_amount(
        self,
        path: str,
        position: int,
        drug: Drug,
        daily: Decimal,
        administrations: int,
        off_label_reason: str,
    ) -> None:
        if position == 0 and daily <= 0:
            self.error(f"{path}.daily_dose_mg", "the starting daily dose must be above 0 mg")
            return
        # The services' own rule: a catalogue dose level in whole tablets within the largest
        # single dose, unless confirmed off-label with a reason.
        problems: dict[str, list[str]] = {}
        services.check_dose(problems, drug, daily, administrations, off_label_reason)
        for key, messages in problems.items():
            for message in messages:
                self.error(f"{path}.{key}", message)

    def sample(
        self,
        raw: object,
        path: str,
        index: int,
        start: dt.date | None,
        stop: dt.date | None,
    ) -> SampleRecord | _Invalid:
        fields = self.fields(raw, path, _SAMPLE_KEYS)
        if fields is None:
            return _INVALID
        errors_before = len(self.errors)
        drawn_at = fields("drawn_at", parse_datetime)
        last_dose_at = fields("last_dose_at", _optional_datetime)
        concentration = fields("concentration", _optional_number, _CONCENTRATION_DIGITS)
        unit = fields("unit", _unit)
        below_lloq = fields("below_lloq", _optional_flag)
        analytes = fields("analytes", _analytes)
        if _valid(drawn_at):
            drawn_on = timezone.localdate(drawn_at)
            if drawn_at > self.now + services.CLOCK_SKEW:
                self.error(f"{path}.drawn_at", "is in the future")
            elif start is not None and drawn_on < start:
                self.error(f"{path}.drawn_at", f"is before the treatment started ({start})")
            elif stop is not None and drawn_on > stop:
                self.error(f"{path}.drawn_at", f"is after the treatment stopped ({stop})")
            if _valid(last_dose_at) and last_dose_at is not None and last_dose_at > drawn_at:
                self.error(f"{path}.last_dose_at", "is after the sample was drawn")
        if _valid(concentration, unit, below_lloq, analytes):
            self.result(path, concentration, unit, below_lloq, analytes)
        if len(self.errors) > errors_before:
            return _INVALID
        return SampleRecord(
            index=index,
            drawn_at=drawn_at,
            last_dose_at=last_dose_at,
            concentration=concentration,
            unit=unit or NG_PER_ML,
            below_lloq=below_lloq,
            analytes=analytes,
        )

    def result(
        self,
        path: str,
        concentration: Decimal | None,
        unit: str | None,
        below_lloq: bool,
        analytes: dict[str, Decimal],
    ) -> None:
        """SPEC §3: no negative result, 0 only as below LLOQ; no value at all is a sample drawn
        and awaiting its result. Per-analyte results (sunitinib + SU12662) come with their sum,
        the value the target applies to."""
        total = sum(analytes.values(), Decimal(0))
        if analytes and (unit != NG_PER_ML or concentration != total):
            self.error(
                f"{path}.concentration",
                "with analytes, the concentration is their sum in ng/mL "
                f"({format(total.normalize(), 'f')} ng/mL)",
            )
            return
        if concentration is None:
            return
        if unit is None:
            self.error(f"{path}.unit", "is required with a concentration")
        elif concentration < 0:
            self.error(f"{path}.concentration", "must not be negative")
        elif concentration == 0 and not below_lloq:
            self.error(
                f"{path}.concentration",
                "0 is not a measured concentration; a result below the limit of quantification "
                "has below_lloq true",
            )

    def plausible(self, path: str, sample: SampleRecord, molar_mass_g_mol: Decimal) -> None:
        if sample.concentration is None:
            return
        if to_ng_ml(sample.concentration, sample.unit, molar_mass_g_mol) > MAX_PLAUSIBLE_NG_ML:
            self.error(f"{path}.concentration", "is above 1 g/mL: not a possible concentration")

    def unique_draw_times(self, path: str, samples: list[SampleRecord | _Invalid]) -> None:
        first: dict[dt.datetime, int] = {}
        for sample in samples:
            if isinstance(sample, _Invalid):
                continue
            if sample.drawn_at in first:
                self.error(
                    f"{path}.samples[{sample.index}].drawn_at",
                    f"samples[{first[sample.drawn_at]}] was drawn at the same moment; "
                    "decisions find their sample by this time",
                )
            else:
                first[sample.drawn_at] = sample.index

    def adverse_event(
        self, raw: object, path: str, index: int, start: dt.date | None
    ) -> AdverseEventRecord | _Invalid:
        fields = self.fields(raw, path, _AE_KEYS)
        if fields is None:
            return _INVALID
        errors_before = len(self.errors)
        name = fields("term", _text, 200)
        grade = fields("grade", _whole, 1, 5)
        onset = fields("onset", parse_date)
        resolved = fields("resolved", _optional_date)
        related = fields("related", _flag)
        action = fields("action", _optional_choice, AdverseEvent.Action.values)
        other_specify = fields("other_specify", _optional_text, 200)
        term = None
        if _valid(name):
            term = ctcae.find_term(name)
            if term is None:
                self.error(f"{path}.term", f"{name!r} is not a CTCAE v5.0 term")
        if term is not None and _valid(grade) and grade not in ctcae.allowed_grades(term):
            grades = ", ".join(str(g) for g in ctcae.allowed_grades(term))
            self.error(
                f"{path}.grade", f"{term.term} has no grade {grade}; its grades are {grades}"
            )
        if (
            term is not None
            and _valid(other_specify)
            and other_specify
            and not term.is_other_specify
        ):
            self.error(f"{path}.other_specify", "free text is only for an 'Other, specify' term")
        if _valid(onset):
            if onset > self.today:
                self.error(f"{path}.onset", "is in the future")
            elif start is not None and onset < start:
                self.error(f"{path}.onset", f"is before the treatment started ({start})")
            if _valid(resolved) and resolved is not None:
                if resolved < onset:
                    self.error(f"{path}.resolved", "is before the onset")
                elif resolved > self.today:
                    self.error(f"{path}.resolved", "is in the future")
        if len(self.errors) > errors_before or term is None:
            return _INVALID
        return AdverseEventRecord(
            index=index,
            term=term.term,
            grade=grade,
            onset=onset,
            resolved=resolved,
            related=related,
            action=action or AdverseEvent.Action.NONE,
            other_specify=other_specify,
        )

    def decisions(
        self,
        fields: _Fields,
        path: str,
        samples: list[SampleRecord | _Invalid],
        doses: list[DoseRecord] | _Invalid,
    ) -> list[DecisionRecord]:
        by_time = {s.drawn_at: s for s in samples if not isinstance(s, _Invalid)}
        # Matching is only meaningful when every sample could be read.
        samples_known = len(by_time) == len(samples)
        decided: dict[dt.datetime, int] = {}
        decisions = []
        for position, raw in self.items(fields, "decisions", required=False):
            decision_path = f"{path}.decisions[{position}]"
            decision_fields = self.fields(raw, decision_path, _DECISION_KEYS)
            if decision_fields is None:
                continue
            errors_before = len(self.errors)
            drawn_at = decision_fields("sample_drawn_at", parse_datetime)
            decision = decision_fields("decision", _choice, DECISIONS)
            reason = decision_fields("reason", _optional_text, 2000)
            if _valid(decision, reason):
                if decision == "rejected" and not reason:
                    self.error(f"{decision_path}.reason", "a rejection needs its reason")
                if decision == "accepted" and reason:
                    self.error(
                        f"{decision_path}.reason", "only a rejection has a reason; give null"
                    )
            if _valid(drawn_at) and samples_known:
                self.decided_sample(decision_path, by_time.get(drawn_at), doses)
                if drawn_at in decided:
                    self.error(
                        f"{decision_path}.sample_drawn_at",
                        f"decisions[{decided[drawn_at]}] already decides on that sample",
                    )
                decided.setdefault(drawn_at, position)
            if len(self.errors) == errors_before:
                decisions.append(
                    DecisionRecord(
                        index=position, sample_drawn_at=drawn_at, decision=decision, reason=reason
                    )
                )
        return decisions

    def decided_sample(
        self, path: str, sample: SampleRecord | None, doses: list[DoseRecord] | _Invalid
    ) -> None:
        """A decision needs the advice of its sample: a result, and a dose taken on that day."""
        if sample is None:
            self.error(f"{path}.sample_drawn_at", "no sample of this treatment was drawn then")
            return
        if sample.concentration is None and not sample.below_lloq:
            self.error(
                f"{path}.sample_drawn_at", "that sample has no result, so no advice to decide on"
            )
            return
        if isinstance(doses, _Invalid):
            return
        drawn_on = timezone.localdate(sample.drawn_at)
        taken = [dose for dose in doses if dose.effective_from <= drawn_on]
        if taken and taken[-1].daily_dose_mg == 0:
            self.error(
                f"{path}.sample_drawn_at",
                "that sample was drawn during an interruption, so there is no advice to decide on",
            )


# Comparing a file's patient with the one already in the database ----------------------------------


def _compare_objects(
    path: str, mine: Mapping[str, Any], theirs: Mapping[str, Any]
) -> list[CohortError]:
    keys = list(mine) + [key for key in theirs if key not in mine]
    return [
        CohortError(
            _path(path, key),
            f"differs from the patient already in the database ({_dumps(theirs.get(key))} there)",
        )
        for key in keys
        if mine.get(key) != theirs.get(key)
    ]


def _differences(path: str, mine: PatientRecord, theirs: PatientRecord) -> list[CohortError]:
    """Where the file's patient differs from the stored one, as the study-internal export writes
    both; the identifying fields are compared too where the file gives them."""
    internal = Pseudonymiser()
    differences = _compare_objects(
        path, _patient_fields_json(mine, internal), _patient_fields_json(theirs, internal)
    )
    for key in ("name", "record_number"):
        if getattr(mine, key) and getattr(mine, key) != getattr(theirs, key):
            differences.append(
                CohortError(f"{path}.{key}", "differs from the patient already in the database")
            )
    dates = _PatientDates(internal, mine.study_number)
    my_treatments = _by_start(mine.treatments)
    their_treatments = _by_start(theirs.treatments)
    if len(my_treatments) != len(their_treatments):
        differences.append(
            CohortError(
                f"{path}.treatments",
                f"the file has {len(my_treatments)} treatment(s), the patient already in the "
                f"database {len(their_treatments)}",
            )
        )
        return differences
    for my_treatment, their_treatment in zip(my_treatments, their_treatments, strict=True):
        treatment_path = f"{path}.treatments[{my_treatment.index}]"
        differences += _compare_objects(
            treatment_path,
            _treatment_fields_json(my_treatment, dates),
            _treatment_fields_json(their_treatment, dates),
        )
        for key, write, order in _TREATMENT_LISTS:
            my_items = sorted(getattr(my_treatment, key), key=order)
            their_items = sorted(getattr(their_treatment, key), key=order)
            if len(my_items) != len(their_items):
                differences.append(
                    CohortError(
                        f"{treatment_path}.{key}",
                        f"the file has {len(my_items)}, the patient already in the database "
                        f"{len(their_items)}",
                    )
                )
                continue
            for my_item, their_item in zip(my_items, their_items, strict=True):
                differences += _compare_objects(
                    f"{treatment_path}.{key}[{my_item.index}]",
                    write(my_item, dates),
                    write(their_item, dates),
                )
    return differences


# Import ------------------------------------------------------------------------------------------


def validate_cohort(document: object) -> list[CohortError]:
    """Every problem of a cohort document (parsed JSON), in document order; [] when valid."""
    return _Checker(now=timezone.now()).document(document).errors


@transaction.atomic
def advice_import_decision(
    *, actor: AbstractBaseUser | None, advice: Advice, decision: str, reason: str
) -> Advice:
    """Give freshly computed advice the decision a cohort file records for it (SPEC §9).

    Only the state changes: no regimen follows an accepted advice (the file's doses are the
    dose history) and there is no electronic signature, so `decided_by` stays empty and no
    signed report is rendered.
    """
    advice = Advice.objects.select_for_update().get(pk=advice.pk)
    if advice.kind != Advice.Kind.SAMPLE or advice.state not in workflow.OPEN_STATES:
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
    """Call a service; a refusal the checks above did not foresee still names the file's path
    (and, raised inside the import's transaction, undoes the whole import)."""
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
                    else _path(path, _FILE_KEY_OF_FIELD.get(key, key)),
                    message,
                )
                for key, messages in problems.items()
                for message in messages
            ]
        ) from None


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


def _treatment_import(
    path: str, record: TreatmentRecord, patient: Patient, actor: AbstractBaseUser | None
) -> None:
    first, *changes = record.doses  # in date order, the first one the start (checked)
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
    )
    for dose in changes:
        _service(
            f"{path}.doses[{dose.index}]",
            services.dose_regimen_create,
            actor=actor,
            treatment=treatment,
            effective_from=dose.effective_from,
            daily_dose_mg=dose.daily_dose_mg,
            administrations_per_day=dose.administrations_per_day,
            reason=dose.reason,
            off_label_reason=dose.off_label_reason,
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
            workflow.advice_create_for_adverse_event(event_id=event.pk)
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
        )
        advice = workflow.advice_create_for_sample(sample_id=sample.pk)
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
            for treatment in _by_start(record.treatments):
                _treatment_import(
                    f"{path}.treatments[{treatment.index}]", treatment, patient, actor
                )
    return ImportResult(
        imported=tuple(record.study_number for record in plan.new_patients),
        unchanged=tuple(plan.unchanged),
        sites_created=tuple(created),
    )
