"""The study tables of the clinical records: patients, treatments, doses, samples."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import F, QuerySet, Window
from django.db.models.functions import Lead

from advice.models import Advice
from cases.models import DoseRegimen, Drug, Patient, Sample, Site, Treatment
from study.columns import (
    STUDY_NUMBER,
    TREATMENT_ID,
    Column,
    Row,
    Select,
    Table,
    analytes_sql,
    analytes_text,
    codes_sql,
    codes_text,
    moment_text,
    numbers_sql,
    numbers_text,
    stream_rows,
)
from study.pseudonym import MID_YEAR, Pseudonymiser
from study.tables.shared import PATIENT, TREATMENT, VIA_TREATMENT

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
    select=Select(
        expressions=(
            "{pseudonym}",
            "s.code",
            "t.sex",
            # As `Pseudonymiser.birth_year`: the year the middle of the birth year moves to.
            f"extract(YEAR FROM make_date(t.birth_year, {MID_YEAR[0]}, {MID_YEAR[1]}) "
            "+ {offset})::integer",
            "t.tumour",
            "t.tumour_code",
        ),
        source=f"{PATIENT} t JOIN {PATIENT} pt ON pt.id = t.id "
        f"JOIN {Site._meta.db_table} s ON s.id = t.site_id",
    ),
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
    select=Select(
        expressions=(
            "t.id",
            "{pseudonym}",
            "d.name",
            "d.indication",
            "t.start_date",
            "t.stop_date",
        ),
        source=f"{TREATMENT} t JOIN {PATIENT} pt ON pt.id = t.patient_id "
        f"JOIN {Drug._meta.db_table} d ON d.id = t.drug_id",
    ),
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
    select=Select(
        expressions=(
            "t.id",
            "t.treatment_id",
            "{pseudonym}",
            "t.effective_from",
            "lead(t.effective_from) OVER (PARTITION BY t.treatment_id ORDER BY t.effective_from)",
            "t.daily_dose_mg",
            "t.administrations_per_day",
            numbers_sql("t.split_mg"),
            "t.reason",
            "a.id",
            "t.off_label",
        ),
        source=f"{DoseRegimen._meta.db_table} t {VIA_TREATMENT} "
        f"LEFT JOIN {Advice._meta.db_table} a ON a.dose_regimen_id = t.id",
        where=f"t.status = '{DoseRegimen.Status.ACTIVE}'",
    ),
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
    select=Select(
        expressions=(
            "t.id",
            "t.treatment_id",
            "{pseudonym}",
            "t.status",
            "t.drawn_at",
            "t.last_dose_at",
            "t.daily_dose_mg",
            "t.administrations_per_day",
            "t.concentration",
            "t.unit",
            "t.below_lloq",
            analytes_sql("t.analytes"),
            "t.concentration_ng_ml",
            "t.hours_after_dose",
            "t.estimated_ctrough_ng_ml",
            "t.method",
            "t.evaluable",
            codes_sql("t.not_evaluable_reasons"),
            codes_sql("t.warnings"),
        ),
        source=f"{Sample._meta.db_table} t {VIA_TREATMENT}",
    ),
)
