"""The study data as pseudonymised tables: column definitions and streaming rows.

One definition serves the CSV and XLSX exports and the data dictionary
(`docs/data-dictionary.md`, `dictionary.csv`), so a column cannot be exported without being
described. Rows are read with `.values_list()` and `.iterator()` in id order: memory stays flat
however large the cohort is.

What is left out, and why (docs/data-dictionary.md, "Pseudonymisation": no name, record number
or full birth date):

- patients: `name` and `record_number` identify the person; only the birth year exists.
- treatments: `stop_reason`, free text that may name people, places or events.
- doses: `off_label_reason` (free text); `off_label` itself is kept.
- samples: `lab_accession` links to the laboratory's own records of the person;
  `cancel_reason` is free text.
- adverse events: `other_specify` (free text) and events entered in error (not study data;
  the clinical engine ignores them too).
- advice: `text` and `rejection_reason` (free text, may be edited by hand), who released or
  signed it (staff identities), the frozen `inputs`/`computed` copies and the PDF reports.

Keys are the study number (pseudonymised when a key is given) and the row ids of this
installation. With a key, every date and time of a patient moves by that patient's offset
(see `study.pseudonym`); without one they are the recorded dates.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import F, QuerySet, Window
from django.db.models.functions import Lead

from advice.models import Advice
from cases.models import AdverseEvent, DoseRegimen, Patient, Sample, Treatment
from study.columns import (
    STUDY_NUMBER,
    TREATMENT_ID,
    Column,
    Row,
    Table,
    analytes_text,
    codes_text,
    moment_text,
    numbers_text,
    stream_rows,
)
from study.pseudonym import Pseudonymiser

# Patients ---------------------------------------------------------------------------------------


def _patients() -> QuerySet:
    return Patient.objects.all()


def _patient_rows(queryset: QuerySet, p: Pseudonymiser) -> Iterator[Row]:
    for study_number, site, sex, birth_year, tumour, tumour_code in stream_rows(
        queryset, "study_number", "site__code", "sex", "birth_year", "tumour", "tumour_code"
    ):
        yield (
            p.study_number(study_number),
            site,
            sex,
            p.birth_year(study_number, birth_year),
            tumour,
            tumour_code,
        )


PATIENTS = Table(
    name="patients",
    description="One row per patient.",
    columns=(
        STUDY_NUMBER,
        Column("site", "text", "Code of the hospital (site) treating the patient."),
        Column("sex", "text", "M (male), F (female) or X (other / not stated)."),
        Column(
            "birth_year",
            "integer",
            "Year of birth; the full birth date is never recorded.",
            "year",
        ),
        Column("tumour", "text", "Tumour type as entered (free text)."),
        Column("tumour_code", "text", "Tumour code as entered, e.g. ICD-10 C22.0; may be empty."),
    ),
    queryset=_patients,
    read=_patient_rows,
)


# Treatments -------------------------------------------------------------------------------------


def _treatments() -> QuerySet:
    return Treatment.objects.all()


def _treatment_rows(queryset: QuerySet, p: Pseudonymiser) -> Iterator[Row]:
    for treatment_id, study_number, drug, indication, start, stop in stream_rows(
        queryset,
        "id",
        "patient__study_number",
        "drug__name",
        "drug__indication",
        "start_date",
        "stop_date",
    ):
        yield (
            treatment_id,
            p.study_number(study_number),
            drug,
            indication,
            p.date(study_number, start),
            p.date(study_number, stop),
        )


TREATMENTS = Table(
    name="treatments",
    description="One row per course of one drug in one patient (the prescription).",
    columns=(
        Column("treatment_id", "integer", "Row id of the treatment."),
        STUDY_NUMBER,
        Column("drug", "text", "Drug (catalogue name, lower case), e.g. sorafenib."),
        Column(
            "indication",
            "text",
            "Catalogue indication for drugs listed more than once (imatinib gist/cml, "
            "sunitinib intermittent/continuous); empty otherwise.",
        ),
        Column("start_date", "date", "First day of the treatment."),
        Column("stop_date", "date", "Day the treatment stopped; empty while it goes on."),
    ),
    queryset=_treatments,
    read=_treatment_rows,
)


# Doses ------------------------------------------------------------------------------------------


def _doses() -> QuerySet:
    # Withdrawn and entered-in-error regimens count for nothing; the cohort file keeps them.
    return DoseRegimen.objects.filter(status=DoseRegimen.Status.ACTIVE)


def _dose_rows(queryset: QuerySet, p: Pseudonymiser) -> Iterator[Row]:
    queryset = queryset.annotate(
        effective_to=Window(
            Lead("effective_from"),
            partition_by=[F("treatment_id")],
            order_by=F("effective_from").asc(),
        )
    )
    for (
        dose_id,
        treatment_id,
        study_number,
        effective_from,
        effective_to,
        daily_dose_mg,
        administrations,
        split_mg,
        reason,
        advice_id,
        off_label,
    ) in stream_rows(
        queryset,
        "id",
        "treatment_id",
        "treatment__patient__study_number",
        "effective_from",
        "effective_to",
        "daily_dose_mg",
        "administrations_per_day",
        "split_mg",
        "reason",
        "advice__id",
        "off_label",
    ):
        yield (
            dose_id,
            treatment_id,
            p.study_number(study_number),
            p.date(study_number, effective_from),
            p.date(study_number, effective_to),
            daily_dose_mg,
            administrations,
            numbers_text(split_mg),
            reason,
            advice_id,
            off_label,
        )


DOSES = Table(
    name="doses",
    description="The dose history: one row per prescribed daily dose (regimen) of a treatment. "
    "A daily dose of 0 mg is an interruption. Withdrawn and entered-in-error regimens count for "
    "nothing and are left out (the cohort file keeps them with their status).",
    columns=(
        Column("dose_id", "integer", "Row id of the regimen."),
        TREATMENT_ID,
        STUDY_NUMBER,
        Column("effective_from", "date", "First day of this daily dose."),
        Column(
            "effective_to",
            "date",
            "Day the next regimen of the treatment took effect (this one ends the day before); "
            "empty for the latest regimen, which ends at the treatment's stop date if any.",
        ),
        Column("daily_dose_mg", "decimal", "Prescribed daily dose.", "mg/day"),
        Column("administrations_per_day", "integer", "Administrations per day.", "1/day"),
        Column(
            "split_mg",
            "text",
            "Dose per administration, largest first, separated by ';' (e.g. 400;200); "
            "empty for an interruption.",
            "mg",
        ),
        Column(
            "reason",
            "text",
            "Why this dose: start, step_up, tdm_advice, toxicity, interruption, resume, other.",
        ),
        Column(
            "advice_id",
            "integer",
            "The accepted advice that caused this dose (advice.advice_id); empty otherwise.",
        ),
        Column(
            "off_label",
            "boolean",
            "The prescriber confirmed a dose outside the drug's catalogue dose levels.",
        ),
    ),
    queryset=_doses,
    read=_dose_rows,
)


# Samples ----------------------------------------------------------------------------------------


def _samples() -> QuerySet:
    return Sample.objects.all()


def _sample_rows(queryset: QuerySet, p: Pseudonymiser) -> Iterator[Row]:
    for (
        sample_id,
        treatment_id,
        study_number,
        status,
        drawn_at,
        last_dose_at,
        daily_dose_mg,
        administrations,
        concentration,
        unit,
        below_lloq,
        analytes,
        concentration_ng_ml,
        hours_after_dose,
        ctrough,
        method,
        evaluable,
        reasons,
        warnings,
    ) in stream_rows(
        queryset,
        "id",
        "treatment_id",
        "treatment__patient__study_number",
        "status",
        "drawn_at",
        "last_dose_at",
        "daily_dose_mg",
        "administrations_per_day",
        "concentration",
        "unit",
        "below_lloq",
        "analytes",
        "concentration_ng_ml",
        "hours_after_dose",
        "estimated_ctrough_ng_ml",
        "method",
        "evaluable",
        "not_evaluable_reasons",
        "warnings",
    ):
        yield (
            sample_id,
            treatment_id,
            p.study_number(study_number),
            status,
            moment_text(p, study_number, drawn_at),
            moment_text(p, study_number, last_dose_at),
            daily_dose_mg,
            administrations,
            concentration,
            unit,
            below_lloq,
            analytes_text(analytes),
            concentration_ng_ml,
            hours_after_dose,
            ctrough,
            method,
            evaluable,
            codes_text(reasons),
            codes_text(warnings),
        )


SAMPLES = Table(
    name="samples",
    description="One row per blood sample for a plasma level, with what the clinical engine "
    "computed from it (docs/clinical-rules.md §2).",
    columns=(
        Column("sample_id", "integer", "Row id of the sample."),
        TREATMENT_ID,
        STUDY_NUMBER,
        Column("status", "text", "scheduled, drawn, resulted or cancelled."),
        Column("drawn_at", "datetime", "When the blood was drawn."),
        Column("last_dose_at", "datetime", "When the last dose before the draw was taken."),
        Column("daily_dose_mg", "decimal", "Daily dose in effect on the draw date.", "mg/day"),
        Column(
            "administrations_per_day",
            "integer",
            "Administrations per day in effect on the draw date.",
            "1/day",
        ),
        Column(
            "concentration",
            "decimal",
            "Measured concentration as reported, in the unit of column `unit`.",
        ),
        Column("unit", "text", "Unit of `concentration`: ng/mL, µg/L, µg/mL, mg/L or nmol/L."),
        Column(
            "below_lloq",
            "boolean",
            "The result was below the assay's lower limit of quantification.",
        ),
        Column(
            "analytes",
            "text",
            "Per-analyte results where the target applies to a sum (sunitinib + SU12662), "
            "as name=value pairs separated by ';'.",
            "ng/mL",
        ),
        Column("concentration_ng_ml", "decimal", "Measured concentration.", "ng/mL"),
        Column("hours_after_dose", "decimal", "Hours between the last dose and the draw.", "h"),
        Column(
            "estimated_ctrough_ng_ml",
            "decimal",
            "Estimated trough concentration (docs/clinical-rules.md §2.3); "
            "empty when not evaluable.",
            "ng/mL",
        ),
        Column("method", "text", "measured or extrapolated; empty when not computed."),
        Column(
            "evaluable",
            "boolean",
            "The sample gives a usable Ctrough (docs/clinical-rules.md §2.1); "
            "empty when not resulted.",
        ),
        Column(
            "not_evaluable_reasons",
            "text",
            "Codes of docs/clinical-rules.md §2.1 separated by ';' "
            "(e.g. before_min_time;missed_dose).",
        ),
        Column("warnings", "text", "Warning codes separated by ';' (e.g. not_steady_state)."),
    ),
    queryset=_samples,
    read=_sample_rows,
)


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
)


TABLES: tuple[Table, ...] = (PATIENTS, TREATMENTS, DOSES, SAMPLES, ADVICE, ADVERSE_EVENTS)
