"""What the study tables share: how a row reaches its patient."""

from cases.models import Patient, Treatment

PATIENT = Patient._meta.db_table
TREATMENT = Treatment._meta.db_table
# Every table's rows reach their patient through their treatment.
VIA_TREATMENT = (
    f"JOIN {TREATMENT} tr ON tr.id = t.treatment_id JOIN {PATIENT} pt ON pt.id = tr.patient_id"
)
