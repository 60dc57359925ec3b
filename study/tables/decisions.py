"""The study tables of what was decided and observed: advice, adverse events."""

from __future__ import annotations

from advice.models import Advice
from cases.models import AdverseEvent
from study.columns import CODES, NUMBERS, STUDY_NUMBER, TREATMENT_ID, Column, Table
from study.tables.shared import VIA_TREATMENT

ADVICE = Table(
    name="advice",
    description="One row per dosing advice computed from a sample or an adverse event, with its "
    "sign-off state (docs/clinical-rules.md §3 and §6, docs/workflow.md).",
    columns=(
        Column("advice_id", "integer", "Row id of the advice.", field="id"),
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
        Column("reasons", "text", "Not-evaluable reason codes separated by ';'.", form=CODES),
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
            form=NUMBERS,
        ),
        Column(
            "predicted_ctrough_ng_ml",
            "decimal",
            "Predicted Ctrough at the proposed dose (linear).",
            "ng/mL",
        ),
        Column(
            "warnings",
            "text",
            "Warning codes separated by ';' (e.g. above_label_dose).",
            form=CODES,
        ),
        Column(
            "checks",
            "text",
            "Checks the physician must confirm, separated by ';'.",
            form=CODES,
        ),
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
        Column("computed_at", "datetime", "When the advice was computed.", field="created_at"),
        Column("released_at", "datetime", "When the pharmacist released it."),
        Column("decided_at", "datetime", "When the physician accepted or rejected it."),
        Column(
            "checks_confirmed",
            "text",
            "Checks the physician confirmed on accepting, separated by ';'.",
            form=CODES,
        ),
        Column(
            "effective_date",
            "date",
            "Day an accepted dose change took effect; empty otherwise.",
        ),
    ),
    queryset=Advice.objects.all,
    patient="treatment__patient__",
    source=f"{Advice._meta.db_table} t {VIA_TREATMENT}",
)


ADVERSE_EVENTS = Table(
    name="adverse_events",
    description="One row per adverse event graded with CTCAE v5.0 (events entered in error "
    "are left out).",
    columns=(
        Column("adverse_event_id", "integer", "Row id of the adverse event.", field="id"),
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
    queryset=lambda: AdverseEvent.objects.filter(entered_in_error=False),
    patient="treatment__patient__",
    source=f"{AdverseEvent._meta.db_table} t {VIA_TREATMENT}",
    where="NOT t.entered_in_error",
)
