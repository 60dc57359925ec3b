"""The study tables of what was decided and observed: advice, adverse events."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet

from advice.models import Advice
from cases.models import AdverseEvent
from study.columns import (
    STUDY_NUMBER,
    TREATMENT_ID,
    Column,
    Row,
    Select,
    Table,
    codes_sql,
    codes_text,
    moment_text,
    numbers_sql,
    numbers_text,
    stream_rows,
)
from study.pseudonym import Pseudonymiser
from study.tables.shared import VIA_TREATMENT

# Advice -----------------------------------------------------------------------------------------


def _advice() -> QuerySet:
    return Advice.objects.all()


def _advice_rows(queryset: QuerySet, p: Pseudonymiser) -> Iterator[Row]:
    for (
        advice_id,
        treatment_id,
        study_number,
        kind,
        sample_id,
        adverse_event_id,
        state,
        action,
        evaluable,
        reasons,
        ctrough,
        target,
        current_dose,
        proposed_dose,
        proposed_administrations,
        proposed_split,
        predicted,
        warnings,
        checks,
        provisional,
        edited,
        created_at,
        released_at,
        decided_at,
        checks_confirmed,
        effective_date,
    ) in stream_rows(
        queryset,
        "id",
        "treatment_id",
        "treatment__patient__study_number",
        "kind",
        "sample_id",
        "adverse_event_id",
        "state",
        "action",
        "evaluable",
        "reasons",
        "ctrough_ng_ml",
        "target_ng_ml",
        "current_daily_dose_mg",
        "proposed_daily_dose_mg",
        "proposed_administrations_per_day",
        "proposed_split_mg",
        "predicted_ctrough_ng_ml",
        "warnings",
        "checks",
        "provisional",
        "edited",
        "created_at",
        "released_at",
        "decided_at",
        "checks_confirmed",
        "effective_date",
    ):
        yield (
            advice_id,
            treatment_id,
            p.study_number(study_number),
            kind,
            sample_id,
            adverse_event_id,
            state,
            action,
            evaluable,
            codes_text(reasons),
            ctrough,
            target,
            current_dose,
            proposed_dose,
            proposed_administrations,
            numbers_text(proposed_split),
            predicted,
            codes_text(warnings),
            codes_text(checks),
            provisional,
            edited,
            moment_text(p, study_number, created_at),
            moment_text(p, study_number, released_at),
            moment_text(p, study_number, decided_at),
            codes_text(checks_confirmed),
            p.date(study_number, effective_date),
        )


ADVICE = Table(
    name="advice",
    description="One row per dosing advice computed from a sample or an adverse event, with its "
    "sign-off state (docs/clinical-rules.md §3 and §6, docs/workflow.md).",
    columns=(
        Column("advice_id", "integer", "Row id of the advice."),
        TREATMENT_ID,
        STUDY_NUMBER,
        Column("kind", "text", "sample (a Ctrough result) or toxicity (an adverse event)."),
        Column("sample_id", "integer", "The sample advised on (samples.sample_id)."),
        Column(
            "adverse_event_id",
            "integer",
            "The adverse event advised on (adverse_events.adverse_event_id).",
        ),
        Column("state", "text", "draft, released, accepted, rejected or superseded."),
        Column(
            "action",
            "text",
            "Action code of docs/clinical-rules.md §8, "
            "e.g. increase, continue, reduce, resample, reassess.",
        ),
        Column("evaluable", "boolean", "The sample was evaluable; empty for toxicity advice."),
        Column("reasons", "text", "Not-evaluable reason codes separated by ';'."),
        Column("ctrough_ng_ml", "decimal", "Estimated Ctrough the advice used.", "ng/mL"),
        Column("target_ng_ml", "decimal", "The drug's target at the time of the advice.", "ng/mL"),
        Column("current_daily_dose_mg", "decimal", "Daily dose when advised.", "mg/day"),
        Column(
            "proposed_daily_dose_mg",
            "decimal",
            "Proposed daily dose as released (the pharmacist may have edited it).",
            "mg/day",
        ),
        Column(
            "proposed_administrations_per_day",
            "integer",
            "Proposed administrations per day.",
            "1/day",
        ),
        Column(
            "proposed_split_mg",
            "text",
            "Proposed dose per administration, largest first, separated by ';'.",
            "mg",
        ),
        Column(
            "predicted_ctrough_ng_ml",
            "decimal",
            "Predicted Ctrough at the proposed dose (linear).",
            "ng/mL",
        ),
        Column("warnings", "text", "Warning codes separated by ';' (e.g. above_label_dose)."),
        Column("checks", "text", "Checks the physician must confirm, separated by ';'."),
        Column(
            "provisional",
            "boolean",
            "Not yet at steady state (less than 5 half-lives since the last change).",
        ),
        Column(
            "edited",
            "boolean",
            "The pharmacist changed the computed text or regimen on release.",
        ),
        Column("computed_at", "datetime", "When the advice was computed."),
        Column("released_at", "datetime", "When the pharmacist released it."),
        Column("decided_at", "datetime", "When the physician accepted or rejected it."),
        Column(
            "checks_confirmed",
            "text",
            "Checks the physician confirmed on accepting, separated by ';'.",
        ),
        Column(
            "effective_date",
            "date",
            "Day an accepted dose change took effect; empty otherwise.",
        ),
    ),
    queryset=_advice,
    read=_advice_rows,
    select=Select(
        expressions=(
            "t.id",
            "t.treatment_id",
            "{pseudonym}",
            "t.kind",
            "t.sample_id",
            "t.adverse_event_id",
            "t.state",
            "t.action",
            "t.evaluable",
            codes_sql("t.reasons"),
            "t.ctrough_ng_ml",
            "t.target_ng_ml",
            "t.current_daily_dose_mg",
            "t.proposed_daily_dose_mg",
            "t.proposed_administrations_per_day",
            numbers_sql("t.proposed_split_mg"),
            "t.predicted_ctrough_ng_ml",
            codes_sql("t.warnings"),
            codes_sql("t.checks"),
            "t.provisional",
            "t.edited",
            "t.created_at",
            "t.released_at",
            "t.decided_at",
            codes_sql("t.checks_confirmed"),
            "t.effective_date",
        ),
        source=f"{Advice._meta.db_table} t {VIA_TREATMENT}",
    ),
)


# Adverse events ---------------------------------------------------------------------------------


def _adverse_events() -> QuerySet:
    return AdverseEvent.objects.filter(entered_in_error=False)


def _adverse_event_rows(queryset: QuerySet, p: Pseudonymiser) -> Iterator[Row]:
    for (
        event_id,
        treatment_id,
        study_number,
        term,
        meddra_code,
        grade,
        onset,
        resolved,
        related,
        action,
        occurrence,
    ) in stream_rows(
        queryset,
        "id",
        "treatment_id",
        "treatment__patient__study_number",
        "term",
        "meddra_code",
        "grade",
        "onset",
        "resolved",
        "related",
        "action",
        "occurrence",
    ):
        yield (
            event_id,
            treatment_id,
            p.study_number(study_number),
            term,
            meddra_code,
            grade,
            p.date(study_number, onset),
            p.date(study_number, resolved),
            related,
            action,
            occurrence,
        )


ADVERSE_EVENTS = Table(
    name="adverse_events",
    description="One row per adverse event graded with CTCAE v5.0 (events entered in error "
    "are left out).",
    columns=(
        Column("adverse_event_id", "integer", "Row id of the adverse event."),
        TREATMENT_ID,
        STUDY_NUMBER,
        Column("term", "text", "CTCAE v5.0 term."),
        Column("meddra_code", "text", "MedDRA code of the CTCAE term (MedDRA 20.1)."),
        Column("grade", "integer", "CTCAE grade 1–5."),
        Column("onset", "date", "Day the event began."),
        Column("resolved", "date", "Day the event resolved; empty while it goes on."),
        Column("related", "boolean", "Judged related to the treatment."),
        Column("action", "text", "Action taken: none, interrupted, reduced or discontinued."),
        Column(
            "occurrence",
            "integer",
            "How many times this term occurred in the treatment up to this event (1 = first).",
        ),
    ),
    queryset=_adverse_events,
    read=_adverse_event_rows,
    select=Select(
        expressions=(
            "t.id",
            "t.treatment_id",
            "{pseudonym}",
            "t.term",
            "t.meddra_code",
            "t.grade",
            "t.onset",
            "t.resolved",
            "t.related",
            "t.action",
            "t.occurrence",
        ),
        source=f"{AdverseEvent._meta.db_table} t {VIA_TREATMENT}",
        where="NOT t.entered_in_error",
    ),
)
