"""Writing the checked patients of a cohort file set-based (docs/cohort-format.md §3).

Each patient is built in memory as the services would store it, in the order they would: the
same model fields, the same engine calls on the same values (`cases.clinical.
compute_sample_values`, `advice.inputs`, `advice.services.sample_advice_columns`), the same
audit events with the same snapshots. Nothing is read back per record: a new patient has no
records but those built here, so a treatment's regimens, samples and adverse events are the
lists kept here (handed to the models' own readings as their prefetched rows). The rows are
then written a table at a time, a chunk of patients at a time, in the caller's transaction
(`study.synthetic.writer`: COPY on PostgreSQL), and the due dates stored from the same
in-memory records (`cases.services.due_dates.stored_schedule`).

No task is queued per record: the reports of the advice left open are rendered by the report
backlog sweep (a hundred a minute) or when first opened, so a large import does not put a
message per advice on the broker at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import DEFAULT_DB_ALIAS, connections, models
from django.utils import timezone

from advice import inputs as advice_inputs
from advice.engine import ctcae, toxicity
from advice.engine.case_input import json_number
from advice.models import Advice
from advice.services import sample_advice_columns, toxicity_advice_columns
from cases import audit, clinical
from cases.models import (
    AdverseEvent,
    AuditEvent,
    DoseRegimen,
    DueDate,
    DueDateHorizon,
    Patient,
    Sample,
    Site,
    Treatment,
)
from cases.services.due_dates import horizon_for, stored_schedule
from cases.services.treatments import regimen_build
from study.cohort.exporter import by_start
from study.cohort.records import (
    NOT_STATED,
    AdverseEventRecord,
    DoseRecord,
    PatientRecord,
    SampleRecord,
    TreatmentRecord,
    overlapping_course,
)
from study.synthetic.writer import Ids, Row, Writer

# Patients built in memory before their rows are written: bounds the memory an import takes.
PATIENTS_PER_CHUNK = 500
# Parents first.
TABLE_ORDER = (Patient, Treatment, DoseRegimen, Sample, AdverseEvent, Advice, AuditEvent)


@dataclass
class _Chunk:
    rows: dict[type[models.Model], list[Any]] = field(
        default_factory=lambda: {model: [] for model in TABLE_ORDER}
    )
    treatments: list[Treatment] = field(default_factory=list)
    patients: int = 0


class CohortWriter:
    """Builds and writes the records of new patients: `add` each, then `finish`."""

    def __init__(
        self, *, actor: AbstractBaseUser | None, actor_username: str = "", now: dt.datetime
    ) -> None:
        connection = connections[DEFAULT_DB_ALIAS]
        self.ids, self.writer = Ids(connection), Writer(connection)
        self.actor = actor if actor is not None and actor.is_authenticated else None
        # Who the events name when no eTDM user imports (the operating-system user).
        self.actor_username = actor_username
        self.now = now
        self.today = timezone.localdate(now)
        self.chunk = _Chunk()

    # Rows and audit events ----------------------------------------------------------------

    def _new(self, model: type[models.Model], **values: Any) -> Any:
        return self._add(model(**values))

    def _add(self, instance: Any) -> Any:
        """The unsaved record with its primary key, stamped as saving it now would."""
        model = type(instance)
        instance.id = self.ids.next(model)
        for column in model._meta.concrete_fields:
            if getattr(column, "auto_now", False) or getattr(column, "auto_now_add", False):
                setattr(instance, column.attname, self.now)
        self.chunk.rows[model].append(instance)
        return instance

    def _audit(
        self, *, action: str, instance: models.Model, computed: bool = False, **fields: Any
    ) -> None:
        """The event the service would record; `computed` for advice the system computes on
        its own (the services record it as the system's, whoever imports)."""
        if computed:
            fields["actor_username"] = "system"
        fields.setdefault("actor_username", self.actor_username)
        columns = audit.event_columns(
            actor=None if computed else self.actor, action=action, instance=instance, **fields
        )
        self.chunk.rows[AuditEvent].append(
            Row(id=self.ids.next(AuditEvent), at=self.now, **columns)
        )

    # Patients and treatments --------------------------------------------------------------

    def add(self, record: PatientRecord, site: Site) -> None:
        patient = self._new(
            Patient,
            site=site,
            study_number=record.study_number,
            sex=record.sex,
            birth_year=record.birth_year,
            tumour=record.tumour.strip(),
            tumour_code=record.tumour_code.strip(),
            name=record.name.strip(),
            record_number=record.record_number,
        )
        self._audit(action=AuditEvent.Action.CREATE, instance=patient)
        earlier: list[TreatmentRecord] = []
        for treatment in by_start(record.treatments):
            self._treatment(treatment, patient, earlier)
            earlier.append(treatment)
        self.chunk.patients += 1
        if self.chunk.patients == PATIENTS_PER_CHUNK:
            self._write_chunk()

    def _treatment(
        self, record: TreatmentRecord, patient: Patient, earlier: list[TreatmentRecord]
    ) -> None:
        treatment = self._new(
            Treatment,
            patient=patient,
            drug=record.drug,
            start_date=record.start_date,
            overlap_reason=(
                record.overlap_reason.strip() if overlapping_course(record, earlier) else ""
            ),
            created_by=self.actor,
        )
        treatment._prefetched_objects_cache = {"regimens": [], "extra_due_dates": []}
        treatment.counted_samples = []
        self.chunk.treatments.append(treatment)
        self._audit(action=AuditEvent.Action.CREATE, instance=treatment)
        live = [dose for dose in record.doses if dose.status == DoseRegimen.Status.ACTIVE]
        # The start, the retired doses, then the changes: the order the services are called in.
        for dose in (
            live[0],
            *(dose for dose in record.doses if dose.status != DoseRegimen.Status.ACTIVE),
            *live[1:],
        ):
            self._regimen(treatment, dose)
        if record.stop_date is not None:
            self._stop(treatment, record.stop_date, record.stop_reason or NOT_STATED)
        decisions = {decision.sample_drawn_at: decision for decision in record.decisions}
        events: list[AdverseEvent] = []
        open_advice: list[Advice] = []
        for entry in _timeline(record):
            if isinstance(entry, AdverseEventRecord):
                events.append(self._adverse_event(treatment, entry, events))
                continue
            sample = self._sample(treatment, entry)
            advice = self._sample_advice(sample, events, open_advice)
            decision = decisions.get(entry.drawn_at)
            if advice is not None and decision is not None:
                self._decide(advice, decision.decision, decision.reason)
                open_advice.clear()

    def _regimen(self, treatment: Treatment, dose: DoseRecord) -> None:
        regimen = self._add(
            regimen_build(
                actor=self.actor,
                treatment=treatment,
                effective_from=dose.effective_from,
                daily_dose_mg=dose.daily_dose_mg,
                administrations_per_day=dose.administrations_per_day,
                reason=dose.reason,
                off_label_reason=dose.off_label_reason,
                status=dose.status,
                status_reason=dose.status_reason.strip()[:200],
            )
        )
        treatment._prefetched_objects_cache["regimens"].append(regimen)
        self._audit(action=AuditEvent.Action.CREATE, instance=regimen)

    def _stop(self, treatment: Treatment, stop_date: dt.date, reason: str) -> None:
        """`cases.services.treatment_stop`: the stop, then every live regimen from that day on
        withdrawn (a course stopped on the day it started keeps no live dose)."""
        before = audit.snapshot(treatment)
        treatment.stop_date, treatment.stop_reason = stop_date, reason.strip()
        self._audit(action=AuditEvent.Action.UPDATE, instance=treatment, before=before)
        why = f"treatment stopped on {stop_date.isoformat()}"
        for regimen in treatment.live_regimens():
            if regimen.effective_from < stop_date:
                continue
            before = audit.snapshot(regimen)
            regimen.status, regimen.status_reason = DoseRegimen.Status.WITHDRAWN, why
            regimen.status_changed_by, regimen.status_changed_at = self.actor, self.now
            self._audit(
                action=AuditEvent.Action.UPDATE,
                instance=regimen,
                before=before,
                detail=f"regimen withdrawn: {why}",
                actor_username="system",
            )

    # Adverse events and samples, with their advice ----------------------------------------

    def _adverse_event(
        self, treatment: Treatment, entry: AdverseEventRecord, earlier: list[AdverseEvent]
    ) -> AdverseEvent:
        term = ctcae.find_term(entry.term)
        assert term is not None  # noqa: S101 - the file's terms were checked
        other_specify = entry.other_specify or (NOT_STATED if term.is_other_specify else "")
        event = self._new(
            AdverseEvent,
            treatment=treatment,
            term=term.term,
            meddra_code=term.meddra_code,
            other_specify=other_specify.strip(),
            grade=entry.grade,
            onset=entry.onset,
            resolved=entry.resolved,
            related=entry.related,
            action=entry.action,
            occurrence=toxicity.occurrence_number(
                term.term, entry.onset, [(other.term, other.onset) for other in earlier]
            ),
            created_by=self.actor,
        )
        self._audit(action=AuditEvent.Action.CREATE, instance=event)
        inputs = advice_inputs.adverse_event_advice_inputs(event)
        if inputs is not None:
            advice = self._new(
                Advice,
                treatment=treatment,
                kind=Advice.Kind.TOXICITY,
                adverse_event=event,
                inputs=inputs,
                **toxicity_advice_columns(event, inputs),
            )
            self._audit(
                action=AuditEvent.Action.CREATE,
                instance=advice,
                detail=f"toxicity advice {advice.action} on adverse event {event.pk}",
                computed=True,
            )
        return event

    def _sample(self, treatment: Treatment, entry: SampleRecord) -> Sample:
        concentration, unit = entry.concentration, entry.unit
        if entry.analytes:
            concentration = sum(entry.analytes.values(), Decimal(0))
            unit = Sample.Unit.NG_ML
        regimen = treatment.regimen_on(timezone.localdate(entry.drawn_at))
        sample = self._new(
            Sample,
            treatment=treatment,
            status=(
                Sample.Status.RESULTED
                if concentration is not None or entry.below_lloq
                else Sample.Status.DRAWN
            ),
            drawn_at=entry.drawn_at,
            last_dose_at=entry.last_dose_at,
            concentration=concentration,
            unit=unit,
            below_lloq=entry.below_lloq,
            analytes={name: json_number(value) for name, value in entry.analytes.items()},
            confirmed_implausible=entry.confirmed_implausible,
            daily_dose_mg=regimen.daily_dose_mg if regimen else None,
            administrations_per_day=regimen.administrations_per_day if regimen else None,
            created_by=self.actor,
        )
        clinical.compute_sample_values(
            sample,
            facts=treatment.drug.facts(),
            treatment_start=treatment.start_date,
            history=treatment.dose_history(),
        )
        treatment.counted_samples.append(sample)
        self._audit(action=AuditEvent.Action.CREATE, instance=sample)
        return sample

    def _sample_advice(
        self, sample: Sample, events: list[AdverseEvent], open_advice: list[Advice]
    ) -> Advice | None:
        """`advice.services.advice_create_for_sample` on a sample drawn after every other of
        its treatment: a draft that supersedes `open_advice`, the open sample advice of the
        earlier ones (and then is that)."""
        if sample.status != Sample.Status.RESULTED or not sample.daily_dose_mg:
            return None
        inputs = advice_inputs.sample_advice_inputs(
            sample, adverse_events=sorted(events, key=lambda event: (event.onset, event.pk))
        )
        advice = self._new(
            Advice,
            treatment=sample.treatment,
            kind=Advice.Kind.SAMPLE,
            sample=sample,
            state=Advice.State.DRAFT,
            inputs=inputs,
            **sample_advice_columns(advice_inputs.advise_on_inputs(inputs)),
        )
        for previous in open_advice:
            before = audit.snapshot(previous)
            previous.state = Advice.State.SUPERSEDED
            self._audit(
                action=AuditEvent.Action.UPDATE,
                instance=previous,
                before=before,
                detail=f"superseded by advice {advice.pk} on a newer result",
                computed=True,
            )
        open_advice[:] = [advice]
        self._audit(
            action=AuditEvent.Action.CREATE,
            instance=advice,
            detail=f"advice {advice.action} computed from sample {sample.pk}",
            computed=True,
        )
        return advice

    def _decide(self, advice: Advice, decision: str, reason: str) -> None:
        """The decision the file records (docs/cohort-format.md §2): only the state changes; no
        regimen follows an acceptance (the file's doses are the history) and there is no
        signature, so `decided_by` stays empty."""
        before = audit.snapshot(advice)
        accepted = decision == "accepted"
        advice.state = Advice.State.ACCEPTED if accepted else Advice.State.REJECTED
        advice.rejection_reason = "" if accepted else reason
        advice.decided_at = self.now
        self._audit(
            action=AuditEvent.Action.ACCEPT if accepted else AuditEvent.Action.REJECT,
            instance=advice,
            before=before,
            detail="imported decision",
            actor_username="system",
        )

    # Writing ------------------------------------------------------------------------------

    def _write_chunk(self) -> None:
        chunk = self.chunk
        for model in TABLE_ORDER:
            self.writer.insert(model, chunk.rows[model])
        due_dates, horizons = [], []
        for treatment in chunk.treatments:
            until = horizon_for(treatment, today=self.today)
            for row in stored_schedule(treatment, until=until):
                row.id = self.ids.next(DueDate)
                due_dates.append(row)
            horizons.append(DueDateHorizon(treatment_id=treatment.pk, until=until))
        self.writer.insert(DueDate, due_dates)
        self.writer.insert(DueDateHorizon, horizons)
        self.chunk = _Chunk()

    def finish(self) -> None:
        self._write_chunk()


def _timeline(record: TreatmentRecord) -> Iterator[AdverseEventRecord | SampleRecord]:
    """The AEs and samples in the order they happened, as if logged live: an AE is logged on
    its onset day before a sample drawn that day (it is active at the draw), samples in draw
    order."""
    entries: list[tuple[tuple, AdverseEventRecord | SampleRecord]] = [
        ((event.onset, 0, event.index), event) for event in record.adverse_events
    ] + [
        ((timezone.localdate(sample.drawn_at), 1, sample.drawn_at, sample.index), sample)
        for sample in record.samples
    ]
    for _, entry in sorted(entries, key=lambda item: item[0]):
        yield entry
