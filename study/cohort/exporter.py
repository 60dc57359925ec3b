"""Writing the cohort file (docs/cohort-format.md §4): `export_study --format json`.

The document is streamed patient by patient, in batches, so memory does not grow with the
cohort, and pseudonymised with a `Pseudonymiser`; names, record numbers and free text never
leave. The writers of one patient are also how the import compares a file's patient with the one
already stored: both are written as the study-internal export writes them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.utils import timezone

from advice.engine.case_input import json_number
from cases.models import DoseRegimen, Patient, Site
from study.cohort import documents_sql, records
from study.cohort.records import (
    FORMAT,
    WITHHELD,
    AdverseEventRecord,
    DecisionRecord,
    DoseRecord,
    PatientRecord,
    SampleRecord,
    TreatmentRecord,
    stored_patient_records,
)
from study.pseudonym import Pseudonymiser


@dataclass(frozen=True)
class PatientDates:
    """One patient's dates and times as written: shifted by the patient's offset (if any), times
    in the installation's UTC offset."""

    pseudonymiser: Pseudonymiser
    study_number: str
    # Looked up once per patient rather than once per moment (as `timezone.localtime` does).
    zone: dt.tzinfo = field(default_factory=timezone.get_current_timezone)

    def day(self, value: dt.date | None) -> str | None:
        shifted = self.pseudonymiser.date(self.study_number, value)
        return shifted.isoformat() if shifted is not None else None

    def moment(self, value: dt.datetime | None) -> str | None:
        if value is None:
            return None
        shifted = self.pseudonymiser.datetime(self.study_number, value.astimezone(self.zone))
        return shifted.isoformat() if shifted is not None else None


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _dose_json(dose: DoseRecord, dates: PatientDates) -> dict[str, Any]:
    written: dict[str, Any] = {
        "from": dates.day(dose.effective_from),
        "daily_dose_mg": json_number(dose.daily_dose_mg),
        "administrations_per_day": dose.administrations_per_day,
        "reason": dose.reason,
    }
    if dose.off_label_reason:
        written["off_label_reason"] = WITHHELD
    if dose.status != DoseRegimen.Status.ACTIVE:
        written["status"] = dose.status
        written["status_reason"] = WITHHELD
    return written


def _sample_json(sample: SampleRecord, dates: PatientDates) -> dict[str, Any]:
    written: dict[str, Any] = {
        "drawn_at": dates.moment(sample.drawn_at),
        "last_dose_at": dates.moment(sample.last_dose_at),
        "concentration": json_number(sample.concentration),
        "unit": sample.unit if sample.concentration is not None else None,
        "below_lloq": sample.below_lloq,
    }
    if sample.confirmed_implausible:
        written["confirmed_implausible"] = True
    if sample.analytes:
        written["analytes"] = {
            name: json_number(value) for name, value in sorted(sample.analytes.items())
        }
    return written


def _adverse_event_json(event: AdverseEventRecord, dates: PatientDates) -> dict[str, Any]:
    return {
        "term": event.term,
        "grade": event.grade,
        "onset": dates.day(event.onset),
        "resolved": dates.day(event.resolved),
        "related": event.related,
        "action": event.action,
    }


def _decision_json(decision: DecisionRecord, dates: PatientDates) -> dict[str, Any]:
    return {
        "sample_drawn_at": dates.moment(decision.sample_drawn_at),
        "decision": decision.decision,
        # A rejection has a reason (and needs one to be re-imported); its text may name people.
        "reason": WITHHELD if decision.decision == "rejected" else None,
    }


# The lists of a treatment: key, writer, and the date they are ordered by (ties keep the order
# they come in: database id, or file position).
TREATMENT_LISTS: tuple[tuple[str, Callable[[Any, PatientDates], dict], Callable], ...] = (
    ("doses", _dose_json, lambda dose: dose.effective_from),
    ("samples", _sample_json, lambda sample: sample.drawn_at),
    ("adverse_events", _adverse_event_json, lambda event: event.onset),
    ("decisions", _decision_json, lambda decision: decision.sample_drawn_at),
)


def treatment_fields_json(treatment: TreatmentRecord, dates: PatientDates) -> dict[str, Any]:
    """A treatment as written, without its lists."""
    return {
        "drug": treatment.drug.name,
        "indication": treatment.drug.indication or None,
        "start_date": dates.day(treatment.start_date),
        "stop_date": dates.day(treatment.stop_date),
        # Free text: never exported (it may name people or places).
        "stop_reason": None,
        **({"overlap_reason": WITHHELD} if treatment.overlap_reason else {}),
    }


def _treatment_json(treatment: TreatmentRecord, dates: PatientDates) -> dict[str, Any]:
    written = treatment_fields_json(treatment, dates)
    for key, write, order in TREATMENT_LISTS:
        written[key] = [write(item, dates) for item in sorted(getattr(treatment, key), key=order)]
    return written


def patient_fields_json(patient: PatientRecord, pseudonymiser: Pseudonymiser) -> dict[str, Any]:
    """A patient as written, without the treatments."""
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


def by_start(treatments: Iterable[TreatmentRecord]) -> list[TreatmentRecord]:
    return sorted(treatments, key=lambda treatment: treatment.start_date)


def patient_json(patient: PatientRecord, pseudonymiser: Pseudonymiser) -> dict[str, Any]:
    """One patient as the cohort file writes it (never with name or record number)."""
    dates = PatientDates(pseudonymiser, patient.study_number)
    written = patient_fields_json(patient, pseudonymiser)
    written["treatments"] = [_treatment_json(t, dates) for t in by_start(patient.treatments)]
    return written


def _batch_documents(
    batch: list[tuple[str, int, int]], pseudonymiser: Pseudonymiser
) -> Iterator[str]:
    """The documents of the batch's patients (pseudonym, id, offset) that still exist: a
    patient deleted (by an admin) since the listing is left out, as an export takes a while."""
    if documents_sql.writes_in_sql():
        documents = list(documents_sql.patient_documents(batch))
        in_python = [pk for pk, text in documents if text is None]
    else:
        documents = [(pk, None) for _, pk, _ in batch]
        in_python = [pk for pk, _ in documents]
    loaded = stored_patient_records(in_python) if in_python else {}
    for pk, text in documents:
        if text is not None:
            yield text
        elif pk in loaded:
            yield dumps(patient_json(loaded[pk], pseudonymiser))


def iter_cohort_json(
    *,
    pseudonymiser: Pseudonymiser,
    progress: Callable[[int, int], None] | None = None,
    exported_at: dt.datetime | None = None,
) -> Iterator[str]:
    """The whole cohort as the docs/cohort-format.md document, in chunks of text (one patient
    per line).

    Sites by code, patients by (exported) study number, everything within a treatment by date
    then id: two exports of the same data differ in `exported_at` only. `progress(done, total)`
    is told the patients written after every batch.
    """
    exported_at = exported_at or timezone.now()
    sites = [{"code": site.code, "name": site.name} for site in Site.objects.order_by("code")]
    yield (
        f'{{"format": {dumps(FORMAT)}, '
        f'"exported_at": {dumps(timezone.localtime(exported_at).isoformat())},\n'
        f' "sites": {dumps(sites)},\n "patients": ['
    )
    # Ordered by the study number as exported: ordering pseudonyms by the real numbers would
    # leak the order of enrolment. Only (pseudonym, id, date offset) are held for the whole cohort.
    order = sorted(
        (pseudonymiser.study_number(study_number), pk, pseudonymiser.offset_days(study_number))
        for pk, study_number in Patient.objects.values_list("pk", "study_number")
    )
    total = len(order)
    written = 0
    if progress is not None:
        progress(written, total)
    # Looked up on its module at each call, so that a test can make the batches small.
    batch_size = records.BATCH_SIZE
    for start in range(0, total, batch_size):
        batch = order[start : start + batch_size]
        for text in _batch_documents(batch, pseudonymiser):
            yield ("\n  " if written == 0 else ",\n  ") + text
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
