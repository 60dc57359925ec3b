"""Every write to the clinical records goes through a service here, one module per entity.

Each service runs in one transaction, validates the whole request before it writes anything
(errors name the field: `ValidationError({field: [message]})`), locks what it changes, and
writes its audit event in the same transaction. Views, the API, the admin, commands and tasks
call these; none of them writes clinical rows itself. Where a write must start work in another
app (advice on a result), the service sends a signal of `cases.signals`.
"""

from cases.services.adverse_events import adverse_event_record, adverse_event_resolve
from cases.services.drugs import drug_save
from cases.services.due_dates import due_dates_extend, due_dates_rebuild, due_dates_refresh
from cases.services.extra_due_dates import extra_due_date_create
from cases.services.patients import patient_create
from cases.services.samples import (
    sample_build,
    sample_cancel,
    sample_checks,
    sample_correct,
    sample_recompute,
    sample_record,
    sample_result,
)
from cases.services.treatments import (
    check_dose,
    dose_regimen_create,
    dose_regimen_mark_in_error,
    dose_regimen_withdraw,
    dose_regimens_withdraw_from,
    treatment_create,
    treatment_stop,
)

__all__ = [
    "adverse_event_record",
    "adverse_event_resolve",
    "check_dose",
    "dose_regimen_create",
    "dose_regimen_mark_in_error",
    "dose_regimen_withdraw",
    "dose_regimens_withdraw_from",
    "drug_save",
    "due_dates_extend",
    "due_dates_rebuild",
    "due_dates_refresh",
    "extra_due_date_create",
    "patient_create",
    "sample_build",
    "sample_cancel",
    "sample_checks",
    "sample_correct",
    "sample_recompute",
    "sample_record",
    "sample_result",
    "treatment_create",
    "treatment_stop",
]
