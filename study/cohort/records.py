"""What the cohort importer and exporter share: the format's constants, its error type, and one
patient's data as plain records, read from a file (by the importer) or from the database.

`index` is a record's position in its list in the file (or in the database's order); error paths
use it, whatever order the records are compared or imported in. docs/cohort-format.md describes
every field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Prefetch, QuerySet

from advice.models import Advice
from cases.models import AdverseEvent, DoseRegimen, Drug, Patient, Sample, Treatment

FORMAT = "etdm-cohort/1"
# Patients loaded per query by the export, and values per `IN (...)` by the import's checks.
BATCH_SIZE = 500
# Stored where the file leaves out a text the services require (a stop reason, the description
# of an "Other, specify" AE): exports never carry free text, and their re-import must work.
NOT_STATED = "not stated in the cohort file"
# Written instead of the reason of an off-label dose or a rejected advice: the fact matters for
# the study (and lets the record be re-imported), the free text may name people.
WITHHELD = "withheld from the export"
DECISIONS = ("accepted", "rejected")
EXPORTED_SAMPLE_STATES = (Sample.Status.DRAWN, Sample.Status.RESULTED)


@dataclass(frozen=True)
class CohortError:
    """One problem in a cohort file: where (`patients[2].treatments[0].samples[1].drawn_at`)
    and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class DoseRecord:
    index: int
    effective_from: dt.date
    daily_dose_mg: Decimal
    administrations_per_day: int
    reason: str
    off_label_reason: str
    status: str
    status_reason: str


@dataclass(frozen=True)
class SampleRecord:
    index: int
    drawn_at: dt.datetime
    last_dose_at: dt.datetime | None
    concentration: Decimal | None
    unit: str
    below_lloq: bool
    confirmed_implausible: bool
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
    overlap_reason: str
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


# Reading records from the database ---------------------------------------------------------------


def with_history(patients: QuerySet[Patient]) -> QuerySet[Patient]:
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
        overlap_reason=treatment.overlap_reason,
        doses=tuple(
            DoseRecord(
                index=position,
                effective_from=regimen.effective_from,
                daily_dose_mg=regimen.daily_dose_mg,
                administrations_per_day=regimen.administrations_per_day,
                reason=regimen.reason,
                off_label_reason=regimen.off_label_reason,
                status=regimen.status,
                status_reason=regimen.status_reason,
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
                confirmed_implausible=sample.confirmed_implausible,
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


def stored_patient_record(patient: Patient) -> PatientRecord:
    """A patient loaded through `with_history` as a record."""
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
