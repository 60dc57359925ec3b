"""What the cohort importer and exporter share: the format's constants, its error type, and one
patient's data as plain records, read from a file (by the importer) or from the database.

`index` is a record's position in its list in the file (or in the database's order); error paths
use it, whatever order the records are compared or imported in. docs/cohort-format.md describes
every field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
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
# Where a treatment row of `stored_patient_records` holds its drug's columns (the id first).
TREATMENT_DRUG = 6


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


def overlapping_course(
    record: TreatmentRecord, earlier: Sequence[TreatmentRecord]
) -> TreatmentRecord | None:
    """The first of the patient's `earlier` courses of the same drug still live when this one
    starts, as `cases.services.treatment_create` finds it: such a course needs its reason."""
    return min(
        (
            other
            for other in earlier
            if other.drug.name == record.drug.name
            and (other.stop_date is None or other.stop_date > record.start_date)
        ),
        key=lambda other: other.start_date,
        default=None,
    )


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


def _grouped(rows, key_index: int = 0) -> dict[int, list[tuple]]:
    groups: dict[int, list[tuple]] = {}
    for row in rows:
        groups.setdefault(row[key_index], []).append(row)
    return groups


def stored_patient_records(patient_ids: Sequence[int]) -> dict[int, PatientRecord]:
    """The patients with those ids (those that still exist) as `stored_patient_record` gives
    them, read as plain values in six queries: building model instances with every column
    (an advice's frozen inputs and results above all) was most of the export's time."""
    in_batch = {"treatment__patient_id__in": patient_ids}
    # Each treatment with its drug's columns, which make one Drug per drug of the batch.
    drug_fields = [field.attname for field in Drug._meta.concrete_fields]
    treatments = _grouped(
        Treatment.objects.filter(patient_id__in=patient_ids)
        .order_by("start_date", "pk")
        .values_list(
            "patient_id",
            "id",
            "start_date",
            "stop_date",
            "stop_reason",
            "overlap_reason",
            *(f"drug__{name}" for name in drug_fields),
        )
    )
    drugs: dict[int, Drug] = {}
    for rows in treatments.values():
        for row in rows:
            if row[TREATMENT_DRUG] not in drugs:
                drugs[row[TREATMENT_DRUG]] = Drug.from_db(
                    Drug.objects.db, drug_fields, row[TREATMENT_DRUG:]
                )
    doses = _grouped(
        DoseRegimen.objects.filter(**in_batch)
        .order_by("effective_from", "pk")
        .values_list(
            "treatment_id",
            "effective_from",
            "daily_dose_mg",
            "administrations_per_day",
            "reason",
            "off_label_reason",
            "status",
            "status_reason",
        )
    )
    samples = _grouped(
        Sample.objects.filter(status__in=EXPORTED_SAMPLE_STATES, **in_batch)
        .order_by("drawn_at", "pk")
        .values_list(
            "treatment_id",
            "drawn_at",
            "last_dose_at",
            "concentration",
            "unit",
            "below_lloq",
            "confirmed_implausible",
            "analytes",
        )
    )
    events = _grouped(
        AdverseEvent.objects.filter(entered_in_error=False, **in_batch)
        .order_by("onset", "pk")
        .values_list(
            "treatment_id",
            "term",
            "grade",
            "onset",
            "resolved",
            "related",
            "action",
            "other_specify",
        )
    )
    decisions = _grouped(
        Advice.objects.filter(
            kind=Advice.Kind.SAMPLE,
            state__in=[Advice.State.ACCEPTED, Advice.State.REJECTED],
            sample__status__in=EXPORTED_SAMPLE_STATES,
            **in_batch,
        )
        .order_by("sample__drawn_at", "pk")
        .values_list("treatment_id", "sample__drawn_at", "state", "rejection_reason")
    )

    def treatment_record(row: tuple, index: int) -> TreatmentRecord:
        _, treatment_id, start_date, stop_date, stop_reason, overlap_reason = row[:TREATMENT_DRUG]
        return TreatmentRecord(
            index=index,
            drug=drugs[row[TREATMENT_DRUG]],
            start_date=start_date,
            stop_date=stop_date,
            stop_reason=stop_reason,
            overlap_reason=overlap_reason,
            doses=tuple(
                DoseRecord(position, *dose[1:])
                for position, dose in enumerate(doses.get(treatment_id, ()))
            ),
            samples=tuple(
                SampleRecord(
                    position,
                    *sample[1:7],
                    analytes={name: Decimal(str(value)) for name, value in sample[7].items()},
                )
                for position, sample in enumerate(samples.get(treatment_id, ()))
            ),
            adverse_events=tuple(
                AdverseEventRecord(position, *event[1:])
                for position, event in enumerate(events.get(treatment_id, ()))
            ),
            decisions=tuple(
                DecisionRecord(position, *decision[1:])
                for position, decision in enumerate(decisions.get(treatment_id, ()))
            ),
        )

    return {
        patient_id: PatientRecord(
            index=0,
            study_number=study_number,
            site_code=site_code,
            sex=sex,
            birth_year=birth_year,
            tumour=tumour,
            tumour_code=tumour_code,
            name=name,
            record_number=record_number,
            treatments=tuple(
                treatment_record(row, position)
                for position, row in enumerate(treatments.get(patient_id, ()))
            ),
        )
        for (
            patient_id, study_number, site_code, sex, birth_year, tumour, tumour_code, name,
            record_number,
        ) in Patient.objects.filter(pk__in=patient_ids).values_list(
            "id", "study_number", "site__code", "sex", "birth_year", "tumour", "tumour_code",
            "name", "record_number",
        )
    }  # fmt: skip


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
