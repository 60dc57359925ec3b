"""The study tables of the clinical records: patients, treatments, doses, samples."""

from __future__ import annotations

from django.db.models import F, Window
from django.db.models.functions import Lead

from advice.models import Advice
from cases.models import DoseRegimen, Drug, Patient, Sample, Site, Treatment
from study.columns import ANALYTES, CODES, NUMBERS, STUDY_NUMBER, TREATMENT_ID, Column, Form, Table
from study.pseudonym import MID_YEAR
from study.tables.shared import PATIENT, TREATMENT, VIA_TREATMENT

# As `Pseudonymiser.birth_year`: the year the middle of the birth year moves to.
BIRTH_YEAR = Form(
    lambda p, study_number, value: p.birth_year(study_number, value),
    lambda expression: (
        f"extract(YEAR FROM make_date({expression}, {MID_YEAR[0]}, "
        f"{MID_YEAR[1]}) + {{offset}})::integer"
    ),
)

PATIENTS = Table(
    name="patients",
    description="One row per patient.",
    columns=(
        STUDY_NUMBER,
        Column(
            "site",
            "text",
            "Code of the hospital (site) treating the patient.",
            field="site__code",
            sql="s.code",
        ),
        Column("sex", "text", "M (male), F (female) or X (other / not stated)."),
        Column(
            "birth_year",
            "integer",
            "Year of birth; the full birth date is never recorded.",
            "year",
            form=BIRTH_YEAR,
        ),
        Column("tumour", "text", "Tumour type as entered (free text)."),
        Column("tumour_code", "text", "Tumour code as entered, e.g. ICD-10 C22.0; may be empty."),
    ),
    queryset=Patient.objects.all,
    patient="",
    source=f"{PATIENT} t JOIN {PATIENT} pt ON pt.id = t.id "
    f"JOIN {Site._meta.db_table} s ON s.id = t.site_id",
)


TREATMENTS = Table(
    name="treatments",
    description="One row per course of one drug in one patient (the prescription).",
    columns=(
        Column("treatment_id", "integer", "Row id of the treatment.", field="id"),
        STUDY_NUMBER,
        Column(
            "drug",
            "text",
            "Drug (catalogue name, lower case), e.g. sorafenib.",
            field="drug__name",
            sql="d.name",
        ),
        Column(
            "indication",
            "text",
            "Catalogue indication for drugs listed more than once (imatinib gist/cml, "
            "sunitinib intermittent/continuous); empty otherwise.",
            field="drug__indication",
            sql="d.indication",
        ),
        Column("start_date", "date", "First day of the treatment."),
        Column("stop_date", "date", "Day the treatment stopped; empty while it goes on."),
    ),
    queryset=Treatment.objects.all,
    patient="patient__",
    source=f"{TREATMENT} t JOIN {PATIENT} pt ON pt.id = t.patient_id "
    f"JOIN {Drug._meta.db_table} d ON d.id = t.drug_id",
)


DOSES = Table(
    name="doses",
    description="The dose history: one row per prescribed daily dose (regimen) of a treatment. "
    "A daily dose of 0 mg is an interruption. Withdrawn and entered-in-error regimens count for "
    "nothing and are left out (the cohort file keeps them with their status).",
    columns=(
        Column("dose_id", "integer", "Row id of the regimen.", field="id"),
        TREATMENT_ID,
        STUDY_NUMBER,
        Column("effective_from", "date", "First day of this daily dose."),
        Column(
            "effective_to",
            "date",
            "Day the next regimen of the treatment took effect (this one ends the day before); "
            "empty for the latest regimen, which ends at the treatment's stop date if any.",
            field=Window(
                Lead("effective_from"),
                partition_by=[F("treatment_id")],
                order_by=F("effective_from").asc(),
            ),
            sql="lead(t.effective_from) OVER "
            "(PARTITION BY t.treatment_id ORDER BY t.effective_from)",
        ),
        Column("daily_dose_mg", "decimal", "Prescribed daily dose.", "mg/day"),
        Column("administrations_per_day", "integer", "Administrations per day.", "1/day"),
        Column(
            "split_mg",
            "text",
            "Dose per administration, largest first, separated by ';' (e.g. 400;200); "
            "empty for an interruption.",
            "mg",
            form=NUMBERS,
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
            field="advice__id",
            sql="a.id",
        ),
        Column(
            "off_label",
            "boolean",
            "The prescriber confirmed a dose outside the drug's catalogue dose levels.",
        ),
    ),
    # Withdrawn and entered-in-error regimens count for nothing; the cohort file keeps them.
    queryset=lambda: DoseRegimen.objects.filter(status=DoseRegimen.Status.ACTIVE),
    patient="treatment__patient__",
    source=f"{DoseRegimen._meta.db_table} t {VIA_TREATMENT} "
    f"LEFT JOIN {Advice._meta.db_table} a ON a.dose_regimen_id = t.id",
    where=f"t.status = '{DoseRegimen.Status.ACTIVE}'",
)


SAMPLES = Table(
    name="samples",
    description="One row per blood sample for a plasma level, with what the clinical engine "
    "computed from it (docs/clinical-rules.md §2).",
    columns=(
        Column("sample_id", "integer", "Row id of the sample.", field="id"),
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
            form=ANALYTES,
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
            form=CODES,
        ),
        Column(
            "warnings",
            "text",
            "Warning codes separated by ';' (e.g. not_steady_state).",
            form=CODES,
        ),
    ),
    queryset=Sample.objects.all,
    patient="treatment__patient__",
    source=f"{Sample._meta.db_table} t {VIA_TREATMENT}",
)
