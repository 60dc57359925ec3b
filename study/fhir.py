"""The study data as FHIR R4: one `Bundle` (type collection) per patient.

The export validates a sample of the Bundles with the `fhir.resources.R4B` models before they
are written: the first patient's and then one in VALIDATE_EVERY (R4B's Patient,
MedicationStatement, Observation, Condition and AdverseEvent are those of R4). Validating
every Bundle would cost most of the export's time for a check that cannot find more: every
Bundle is built by the same code from columns of the same types, and the tests validate every
Bundle they export. The
library does not check code values; the codes below are the only ones written, each from the
value set named beside it.

Per patient:

- `Patient`: the (pseudonymised) study number as the only identifier, gender, the birth year
  as a partial date (`"1960"`: FHIR's date allows a year alone), the site as managing
  organisation by identifier. No name, no record number.
- `Condition`: the tumour type as text, ICD-10 coded when its code has the ICD-10 shape.
- `MedicationStatement` per regimen (dose period): the drug as a local code; a dosage with the
  administrations per day as timing and the daily dose as a rate in mg/d (plus the dose per
  administration when all administrations are equal); `effectivePeriod` from the day it took
  effect to the day before the next regimen (or the treatment's stop date). An interruption
  (0 mg) is `not-taken`, or `on-hold` while it lasts.
- `Observation` per resulted sample: the measured concentration in ng/mL (UCUM), drawn at
  as `effectiveDateTime`, and components for the estimated Ctrough (ng/mL), hours after the
  dose (h), the estimate's method, evaluability (boolean) and each not-evaluable reason.
  A result below the LLOQ carries interpretation `<` (off scale low).
- `AdverseEvent` per event (not those entered in error): the CTCAE v5.0 term as text with its
  MedDRA code; the CTCAE grade in the `ae-grade` extension and the resolution date in the
  `resolve-date` extension, both of the HL7 Adverse Event Clinical Research R4 Backport IG
  (STU1, hl7.org/fhir/uv/ae-research-backport-ig), grades coded with the NCI Thesaurus codes of
  HL7's value set adverse-event-clinical-research-grades; severity mild (grade 1), moderate
  (2) or severe (3–5); a related event names the regimen in effect at onset as suspect entity.

Full URLs are `urn:uuid:` values derived from the study number and row ids, so the same data
gives the same bytes.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle

from advice.engine import ctcae
from advice.engine.case_input import json_number
from cases.models import AdverseEvent, DoseRegimen, Patient, Sample, Treatment
from study.pseudonym import Pseudonymiser

# Local identifiers and codes have no published definitions: a reserved domain (RFC 2606)
# marks them as this installation's own and guarantees nobody resolves them elsewhere.
LOCAL_BASE = "https://etdm.invalid/fhir"
STUDY_NUMBER_SYSTEM = f"{LOCAL_BASE}/sid/study-number"
SITE_SYSTEM = f"{LOCAL_BASE}/sid/site"
DOSE_ID_SYSTEM = f"{LOCAL_BASE}/sid/dose"
SAMPLE_ID_SYSTEM = f"{LOCAL_BASE}/sid/sample"
ADVERSE_EVENT_ID_SYSTEM = f"{LOCAL_BASE}/sid/adverse-event"
DRUG_SYSTEM = f"{LOCAL_BASE}/CodeSystem/drug"
TDM_SYSTEM = f"{LOCAL_BASE}/CodeSystem/tdm"
DOSE_REASON_URL = f"{LOCAL_BASE}/StructureDefinition/dose-change-reason"
AE_ACTION_URL = f"{LOCAL_BASE}/StructureDefinition/adverse-event-action-taken"

UCUM = "http://unitsofmeasure.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
# HL7 Terminology's URI for MedDRA; CTCAE v5.0 terms are MedDRA 20.1 lowest level terms.
MEDDRA = "https://www.meddra.org"
MEDDRA_VERSION = "20.1"
NCI_THESAURUS = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"
AE_GRADE_URL = "http://hl7.org/fhir/uv/ae-research-backport-ig/StructureDefinition/ae-grade"
AE_RESOLVE_DATE_URL = (
    "http://hl7.org/fhir/uv/ae-research-backport-ig/StructureDefinition/resolve-date"
)
AE_SEVERITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
AE_OUTCOME_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-outcome"
OBSERVATION_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"

# Value set adverse-event-clinical-research-grades (HL7 Terminology): NCI Thesaurus codes.
CTCAE_GRADES = {
    1: ("C41338", "Grade 1 Mild Adverse Event"),
    2: ("C41339", "Grade 2 Moderate Adverse Event"),
    3: ("C41340", "Grade 3 Severe Adverse Event"),
    4: ("C41337", "Grade 4 Life Threatening or Disabling Adverse Event"),
    5: ("C48275", "Grade 5 Death Related to Adverse Event"),
}
# R4 AdverseEvent.severity allows mild | moderate | severe only: every grade from 3 on is severe.
SEVERITY_BY_GRADE = {1: "mild", 2: "moderate", 3: "severe", 4: "severe", 5: "severe"}
SEVERITY_DISPLAY = {severity: severity.title() for severity in SEVERITY_BY_GRADE.values()}
# administrative-gender has no "other / not stated": X could be either, so it is unknown.
GENDER_BY_SEX = {"M": "male", "F": "female", "X": "unknown"}
ICD10_SHAPE = re.compile(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$")

# Patients read per round of queries: a page's rows stay small whatever the cohort size.
PATIENT_PAGE = 500
# One patient's Bundle in this many is validated by the export (and always the first).
VALIDATE_EVERY = 100
_UUID_NAMESPACE_BYTES = uuid.uuid5(uuid.NAMESPACE_URL, LOCAL_BASE).bytes
# The hex digit that holds a UUID's variant: its top bits become RFC 4122's 10, the low two are
# the hash's.
_VARIANT_DIGIT = {digit: "89ab"[int(digit, 16) & 0b11] for digit in "0123456789abcdef"}


@dataclass(frozen=True)
class DoseRecord:
    dose_id: int
    effective_from: datetime.date
    daily_dose_mg: Decimal
    administrations_per_day: int
    split_mg: tuple[Decimal, ...]
    reason: str


@dataclass(frozen=True)
class SampleRecord:
    sample_id: int
    drawn_at: datetime.datetime
    concentration_ng_ml: Decimal | None
    below_lloq: bool
    hours_after_dose: Decimal | None
    estimated_ctrough_ng_ml: Decimal | None
    method: str
    evaluable: bool | None
    not_evaluable_reasons: tuple[str, ...]


@dataclass(frozen=True)
class AdverseEventRecord:
    adverse_event_id: int
    term: str
    meddra_code: str
    grade: int
    onset: datetime.date
    resolved: datetime.date | None
    related: bool
    action: str


@dataclass(frozen=True)
class TreatmentRecord:
    drug: str
    indication: str
    stop_date: datetime.date | None
    doses: tuple[DoseRecord, ...]
    samples: tuple[SampleRecord, ...]
    adverse_events: tuple[AdverseEventRecord, ...]


@dataclass(frozen=True)
class PatientRecord:
    """One patient's study data, already pseudonymised (study number and dates)."""

    study_number: str
    site: str
    sex: str
    birth_year: int
    tumour: str
    tumour_code: str
    treatments: tuple[TreatmentRecord, ...]


# Reading ----------------------------------------------------------------------------------------


def _grouped(rows, key_index: int) -> dict[int, list[tuple]]:
    groups: dict[int, list[tuple]] = {}
    for row in rows:
        groups.setdefault(row[key_index], []).append(row)
    return groups


# JSON list columns are read as their text and parsed once per distinct text: a cohort repeats
# a few dose splits and reason lists thousands of times. The rows of a page, held while its
# Bundles are built, then hold plain values only, which the garbage collector does not track;
# rows holding lists count towards its collections of the whole heap.
def _json_text(column: str) -> Cast:
    return Cast(column, output_field=TextField())


@functools.lru_cache(maxsize=1024)
def _json_tuple(text: str | None) -> tuple:
    """The JSON list as a tuple, empty for null."""
    return tuple(json.loads(text) or ()) if text is not None else ()


@functools.lru_cache(maxsize=1024)
def _split_doses(text: str | None) -> tuple[Decimal, ...]:
    return tuple(Decimal(str(part)) for part in _json_tuple(text))


def _patient_page(patient_rows: Sequence[tuple], p: Pseudonymiser) -> Iterator[PatientRecord]:
    patient_ids = [row[0] for row in patient_rows]
    treatments = _grouped(
        Treatment.objects.filter(patient_id__in=patient_ids)
        .order_by("patient_id", "start_date", "id")
        .values_list("patient_id", "id", "drug__name", "drug__indication", "stop_date"),
        0,
    )
    # By the page's treatment ids, not through a join on their patients: the index on
    # treatment_id finds the rows, where PostgreSQL planned the join as a scan of each whole
    # table for every page.
    in_page = {
        "treatment_id__in": [row[1] for rows in treatments.values() for row in rows],
    }
    doses = _grouped(
        DoseRegimen.objects.filter(status=DoseRegimen.Status.ACTIVE, **in_page)
        .order_by("treatment_id", "effective_from")
        .values_list(
            "treatment_id", "id", "effective_from", "daily_dose_mg",
            "administrations_per_day", _json_text("split_mg"), "reason",
        ),
        0,
    )  # fmt: skip
    samples = _grouped(
        Sample.objects.filter(status=Sample.Status.RESULTED, **in_page)
        .order_by("treatment_id", "drawn_at", "id")
        .values_list(
            "treatment_id", "id", "drawn_at", "concentration_ng_ml", "below_lloq",
            "hours_after_dose", "estimated_ctrough_ng_ml", "method", "evaluable",
            _json_text("not_evaluable_reasons"),
        ),
        0,
    )  # fmt: skip
    events = _grouped(
        AdverseEvent.objects.filter(entered_in_error=False, **in_page)
        .order_by("treatment_id", "onset", "id")
        .values_list(
            "treatment_id", "id", "term", "meddra_code", "grade", "onset", "resolved",
            "related", "action",
        ),
        0,
    )  # fmt: skip
    zone = timezone.get_current_timezone()
    for patient_id, raw_number, site, sex, birth_year, tumour, tumour_code in patient_rows:
        yield PatientRecord(
            study_number=p.study_number(raw_number),
            site=site,
            sex=sex,
            birth_year=p.birth_year(raw_number, birth_year),
            tumour=tumour,
            tumour_code=tumour_code,
            treatments=tuple(
                TreatmentRecord(
                    drug=drug,
                    indication=indication,
                    stop_date=p.date(raw_number, stop_date),
                    doses=tuple(_dose(p, raw_number, row) for row in doses.get(treatment_id, ())),
                    samples=tuple(
                        _sample(p, raw_number, zone, row) for row in samples.get(treatment_id, ())
                    ),
                    adverse_events=tuple(
                        _event(p, raw_number, row) for row in events.get(treatment_id, ())
                    ),
                )
                for _, treatment_id, drug, indication, stop_date in treatments.get(patient_id, ())
            ),
        )


def _dose(p: Pseudonymiser, raw_number: str, row: tuple) -> DoseRecord:
    _, dose_id, effective_from, daily_dose_mg, administrations, split_mg, reason = row
    return DoseRecord(
        dose_id=dose_id,
        effective_from=p.date(raw_number, effective_from),
        daily_dose_mg=daily_dose_mg,
        administrations_per_day=administrations,
        split_mg=_split_doses(split_mg),
        reason=reason,
    )


def _sample(p: Pseudonymiser, raw_number: str, zone: datetime.tzinfo, row: tuple) -> SampleRecord:
    (_, sample_id, drawn_at, concentration, below_lloq, hours, ctrough, method, evaluable,
     reasons) = row  # fmt: skip
    return SampleRecord(
        sample_id=sample_id,
        drawn_at=p.datetime(raw_number, timezone.localtime(drawn_at, zone)),
        concentration_ng_ml=concentration,
        below_lloq=below_lloq,
        hours_after_dose=hours,
        estimated_ctrough_ng_ml=ctrough,
        method=method,
        evaluable=evaluable,
        not_evaluable_reasons=_json_tuple(reasons),
    )


def _event(p: Pseudonymiser, raw_number: str, row: tuple) -> AdverseEventRecord:
    _, event_id, term, meddra_code, grade, onset, resolved, related, action = row
    return AdverseEventRecord(
        adverse_event_id=event_id,
        term=term,
        meddra_code=meddra_code,
        grade=grade,
        onset=p.date(raw_number, onset),
        resolved=p.date(raw_number, resolved),
        related=related,
        action=action,
    )


def patient_records(pseudonymiser: Pseudonymiser) -> Iterator[PatientRecord]:
    """Every patient with their treatments, in id order, read a page of patients at a time."""
    last_id = 0
    while True:
        page = list(
            Patient.objects.filter(id__gt=last_id)
            .order_by("id")
            .values_list(
                "id", "study_number", "site__code", "sex", "birth_year", "tumour", "tumour_code"
            )[:PATIENT_PAGE]
        )
        if not page:
            return
        yield from _patient_page(page, pseudonymiser)
        last_id = page[-1][0]


def patient_count() -> int:
    return Patient.objects.count()


# Building ---------------------------------------------------------------------------------------
# Resources are built as FHIR JSON objects and validated once, as a whole Bundle, by the R4B
# models: building nested model instances validates every element again at each level and
# costs several times as much for the same check.

JsonObject = dict[str, Any]


def uuid5_urn(name: str) -> str:
    """`urn:uuid:` and `uuid.uuid5` of the name in the LOCAL_BASE namespace, formatted from the
    SHA-1 digest directly: a Bundle has dozens of full URLs, and building each `uuid.UUID` only
    to print it would cost three times the hash itself."""
    digest = hashlib.sha1(_UUID_NAMESPACE_BYTES + name.encode(), usedforsecurity=False).hexdigest()
    return (
        f"urn:uuid:{digest[:8]}-{digest[8:12]}-5{digest[13:16]}-"
        f"{_VARIANT_DIGIT[digest[16]]}{digest[17:20]}-{digest[20:32]}"
    )


def _full_url(study_number: str, kind: str, row_id: int) -> str:
    return uuid5_urn(f"{study_number}/{kind}/{row_id}")


def _quantity(value: Decimal | int, code: str, comparator: str | None = None) -> JsonObject:
    number = json_number(Decimal(value))
    if comparator:
        return {
            "value": number, "comparator": comparator, "unit": code, "system": UCUM, "code": code
        }  # fmt: skip
    return {"value": number, "unit": code, "system": UCUM, "code": code}


def _coding(system: str, code: str, display: str | None = None) -> JsonObject:
    if display:
        return {"system": system, "code": code, "display": display}
    return {"system": system, "code": code}


def _tdm_code(code: str, display: str) -> JsonObject:
    if display:
        return {"coding": [{"system": TDM_SYSTEM, "code": code, "display": display}]}
    return {"coding": [{"system": TDM_SYSTEM, "code": code}]}


def _identifier(system: str, value: str | int) -> JsonObject:
    return {"system": system, "value": str(value)}


def _patient(record: PatientRecord) -> JsonObject:
    return {
        "resourceType": "Patient",
        "identifier": [_identifier(STUDY_NUMBER_SYSTEM, record.study_number)],
        "gender": GENDER_BY_SEX[record.sex],
        "birthDate": f"{record.birth_year:04d}",
        "managingOrganization": {
            "identifier": _identifier(SITE_SYSTEM, record.site),
            "display": record.site,
        },
    }


def _condition(record: PatientRecord, subject: JsonObject) -> JsonObject:
    if ICD10_SHAPE.match(record.tumour_code):
        code = {"coding": [{"system": ICD10, "code": record.tumour_code}], "text": record.tumour}
    else:
        code = {"text": record.tumour}
    return {"resourceType": "Condition", "code": code, "subject": subject}


def _dose_status(dose: DoseRecord, is_last: bool, stopped: bool) -> str:
    if dose.daily_dose_mg == 0:
        return "on-hold" if is_last and not stopped else "not-taken"
    if not is_last:
        return "completed"
    return "stopped" if stopped else "active"


def _dosage(dose: DoseRecord) -> JsonObject:
    parts = dose.split_mg
    daily = format(dose.daily_dose_mg.normalize(), "f")
    text = f"{daily} mg/day in {dose.administrations_per_day} administration(s)"
    if parts:
        text += " (" + " + ".join(format(part.normalize(), "f") for part in parts) + " mg)"
    rate = {
        "numerator": _quantity(dose.daily_dose_mg, "mg"),
        "denominator": {"value": 1, "unit": "d", "system": UCUM, "code": "d"},
    }
    if len(parts) == dose.administrations_per_day and len(set(parts)) == 1:
        dose_and_rate = {"doseQuantity": _quantity(parts[0], "mg"), "rateRatio": rate}
    else:
        dose_and_rate = {"rateRatio": rate}
    return {
        "text": text,
        "timing": {
            "repeat": {"frequency": dose.administrations_per_day, "period": 1, "periodUnit": "d"}
        },
        "doseAndRate": [dose_and_rate],
    }


def _drug_concept(treatment: TreatmentRecord) -> JsonObject:
    label = f"{treatment.drug} ({treatment.indication})" if treatment.indication else treatment.drug
    return {"coding": [_coding(DRUG_SYSTEM, treatment.drug, treatment.drug)], "text": label}


def _drug_concentration_code(treatment: TreatmentRecord) -> JsonObject:
    return {
        "coding": [_coding(DRUG_SYSTEM, treatment.drug, treatment.drug)],
        "text": f"{treatment.drug} concentration in plasma",
    }


def _medication_statement(
    treatment: TreatmentRecord,
    dose: DoseRecord,
    next_dose: DoseRecord | None,
    subject: JsonObject,
) -> JsonObject:
    if next_dose is not None:
        end = next_dose.effective_from - datetime.timedelta(days=1)
    else:
        end = treatment.stop_date
    period = {"start": dose.effective_from.isoformat()}
    if end is not None:
        period["end"] = end.isoformat()
    statement: JsonObject = {
        "resourceType": "MedicationStatement",
        "extension": [{"url": DOSE_REASON_URL, "valueCode": dose.reason}],
        "identifier": [_identifier(DOSE_ID_SYSTEM, dose.dose_id)],
        "status": _dose_status(dose, next_dose is None, treatment.stop_date is not None),
        "medicationCodeableConcept": _drug_concept(treatment),
        "subject": subject,
        "effectivePeriod": period,
    }
    if dose.daily_dose_mg > 0:
        statement["dosage"] = [_dosage(dose)]
    return statement


def _components(sample: SampleRecord) -> list[JsonObject]:
    components = []
    if sample.estimated_ctrough_ng_ml is not None:
        components.append(
            {
                "code": _tdm_code("estimated-ctrough", "Estimated trough concentration"),
                "valueQuantity": _quantity(sample.estimated_ctrough_ng_ml, "ng/mL"),
            }
        )
    if sample.hours_after_dose is not None:
        components.append(
            {
                "code": _tdm_code("hours-after-dose", "Hours between last dose and draw"),
                "valueQuantity": _quantity(sample.hours_after_dose, "h"),
            }
        )
    if sample.method:
        components.append(
            {
                "code": _tdm_code("ctrough-method", "Method of the Ctrough estimate"),
                "valueCodeableConcept": _tdm_code(sample.method, sample.method),
            }
        )
    if sample.evaluable is not None:
        components.append(
            {
                "code": _tdm_code("evaluable", "Evaluable for a Ctrough"),
                "valueBoolean": sample.evaluable,
            }
        )
    components.extend(
        {
            "code": _tdm_code("not-evaluable-reason", "Reason not evaluable"),
            "valueCodeableConcept": _tdm_code(reason, reason.replace("_", " ")),
        }
        for reason in sample.not_evaluable_reasons
    )
    return components


def _observation(
    treatment: TreatmentRecord, sample: SampleRecord, subject: JsonObject
) -> JsonObject:
    observation: JsonObject = {
        "resourceType": "Observation",
        "identifier": [_identifier(SAMPLE_ID_SYSTEM, sample.sample_id)],
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": OBSERVATION_CATEGORY_SYSTEM,
                        "code": "laboratory",
                        "display": "Laboratory",
                    }
                ]
            }
        ],
        "code": _drug_concentration_code(treatment),
        "subject": subject,
        "effectiveDateTime": sample.drawn_at.isoformat(),
    }
    if sample.concentration_ng_ml is not None:
        observation["valueQuantity"] = _quantity(
            sample.concentration_ng_ml, "ng/mL", "<" if sample.below_lloq else None
        )
    if sample.below_lloq:
        observation["interpretation"] = [
            {"coding": [{"system": INTERPRETATION_SYSTEM, "code": "<", "display": "Off scale low"}]}
        ]
    components = _components(sample)
    if components:
        observation["component"] = components
    return observation


def _regimen_at(doses: Sequence[DoseRecord], day: datetime.date) -> DoseRecord | None:
    current = None
    for dose in doses:
        if dose.effective_from > day:
            break
        current = dose
    return current


def _adverse_event(
    event: AdverseEventRecord, subject: JsonObject, suspect_url: str | None
) -> JsonObject:
    grade_code, grade_display = CTCAE_GRADES[event.grade]
    extensions = [
        {
            "url": AE_GRADE_URL,
            "valueCodeableConcept": {
                "coding": [{"system": NCI_THESAURUS, "code": grade_code, "display": grade_display}],
                "text": f"CTCAE grade {event.grade}",
            },
        },
        {"url": AE_ACTION_URL, "valueCode": event.action},
    ]
    if event.resolved is not None:
        extensions.append({"url": AE_RESOLVE_DATE_URL, "valueDateTime": event.resolved.isoformat()})
    meddra_code = event.meddra_code
    if not meddra_code:
        term = ctcae.find_term(event.term)
        meddra_code = term.meddra_code if term else ""
    concept: JsonObject
    if meddra_code:
        concept = {
            "coding": [
                {
                    "system": MEDDRA,
                    "version": MEDDRA_VERSION,
                    "code": meddra_code,
                    "display": event.term,
                }
            ],
            "text": event.term,
        }
    else:
        concept = {"text": event.term}
    if event.grade == 5:
        outcome = "fatal"
    elif event.resolved is not None:
        outcome = "resolved"
    else:
        outcome = "ongoing"
    severity = SEVERITY_BY_GRADE[event.grade]
    severity_display = SEVERITY_DISPLAY[severity]
    resource: JsonObject = {
        "resourceType": "AdverseEvent",
        "extension": extensions,
        "identifier": _identifier(ADVERSE_EVENT_ID_SYSTEM, event.adverse_event_id),
        "actuality": "actual",
        "event": concept,
        "subject": subject,
        "date": event.onset.isoformat(),
        "severity": {
            "coding": [
                {"system": AE_SEVERITY_SYSTEM, "code": severity, "display": severity_display}
            ]
        },
        "outcome": {"coding": [{"system": AE_OUTCOME_SYSTEM, "code": outcome}]},
    }
    if suspect_url is not None:
        resource["suspectEntity"] = [{"instance": {"reference": suspect_url}}]
    return resource


def patient_bundle(record: PatientRecord, *, validate: bool = True) -> JsonObject:
    """The patient's Bundle (type collection) as FHIR JSON, validated by the R4B models unless
    told not to: raises pydantic's ValidationError if any resource breaks the R4 structure."""
    number = record.study_number
    patient_url = _full_url(number, "Patient", 0)
    subject = {"reference": patient_url}
    entries: list[JsonObject] = [
        {"fullUrl": patient_url, "resource": _patient(record)},
        {"fullUrl": _full_url(number, "Condition", 0), "resource": _condition(record, subject)},
    ]
    for treatment in record.treatments:
        doses = treatment.doses
        # An adverse event's suspect entity is a statement of the same treatment: its URL is
        # looked up here rather than hashed again.
        statement_urls: dict[int, str] = {}
        for index, dose in enumerate(doses):
            next_dose = doses[index + 1] if index + 1 < len(doses) else None
            url = statement_urls[dose.dose_id] = _full_url(
                number, "MedicationStatement", dose.dose_id
            )
            entries.append(
                {
                    "fullUrl": url,
                    "resource": _medication_statement(treatment, dose, next_dose, subject),
                }
            )
        entries.extend(
            {
                "fullUrl": _full_url(number, "Observation", sample.sample_id),
                "resource": _observation(treatment, sample, subject),
            }
            for sample in treatment.samples
        )
        for event in treatment.adverse_events:
            regimen = _regimen_at(doses, event.onset) or (doses[0] if doses else None)
            suspect = (
                statement_urls[regimen.dose_id] if event.related and regimen is not None else None
            )
            entries.append(
                {
                    "fullUrl": _full_url(number, "AdverseEvent", event.adverse_event_id),
                    "resource": _adverse_event(event, subject, suspect),
                }
            )
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    if validate:
        Bundle.model_validate(bundle)
    return bundle


def patient_bundles(pseudonymiser: Pseudonymiser) -> Iterator[JsonObject]:
    """One Bundle per patient as FHIR JSON, in patient id order; one in VALIDATE_EVERY (the
    first among them) validated."""
    for index, record in enumerate(patient_records(pseudonymiser)):
        yield patient_bundle(record, validate=index % VALIDATE_EVERY == 0)
