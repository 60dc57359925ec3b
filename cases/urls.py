from django.urls import path

from cases.views import (
    adverse_events,
    audit,
    extra_samples,
    patients,
    regimens,
    samples,
    treatments,
    worklist,
)

urlpatterns = [
    path("worklist/", worklist.worklist, name="worklist"),
    path("patients/", patients.patient_list, name="patient-list"),
    path("patients/new/", patients.patient_create, name="patient-create"),
    path("patients/<int:pk>/", patients.patient_detail, name="patient-detail"),
    path(
        "patients/<int:pk>/treatments/new/",
        treatments.treatment_create,
        name="treatment-create",
    ),
    path("treatments/dose-fields/", treatments.treatment_dose_fields, name="treatment-dose-fields"),
    path("treatments/<int:pk>/", treatments.treatment_detail, name="treatment-detail"),
    path("treatments/<int:pk>/dose/", treatments.dose_change, name="dose-change"),
    path("treatments/<int:pk>/stop/", treatments.treatment_stop, name="treatment-stop"),
    path("treatments/<int:pk>/samples/new/", samples.sample_create, name="sample-create"),
    path(
        "treatments/<int:pk>/extra-samples/new/",
        extra_samples.extra_sample_create,
        name="extra-sample-create",
    ),
    path("regimens/<int:pk>/withdraw/", regimens.regimen_withdraw, name="regimen-withdraw"),
    path(
        "regimens/<int:pk>/entered-in-error/",
        regimens.regimen_entered_in_error,
        name="regimen-entered-in-error",
    ),
    path("treatments/<int:pk>/samples/preview/", samples.sample_preview, name="sample-preview"),
    path(
        "treatments/<int:pk>/adverse-events/new/",
        adverse_events.adverse_event_create,
        name="adverse-event-create",
    ),
    path("samples/<int:pk>/", samples.sample_detail, name="sample-detail"),
    path("samples/<int:pk>/result/", samples.sample_result, name="sample-result"),
    path("samples/<int:pk>/cancel/", samples.sample_cancel, name="sample-cancel"),
    path("samples/<int:pk>/correct/", samples.sample_correct, name="sample-correct"),
    path(
        "adverse-events/<int:pk>/", adverse_events.adverse_event_detail, name="adverse-event-detail"
    ),
    path(
        "adverse-events/<int:pk>/resolve/",
        adverse_events.adverse_event_resolve,
        name="adverse-event-resolve",
    ),
    path("ctcae/terms/", adverse_events.ctcae_terms, name="ctcae-terms"),
    path("ctcae/grades/", adverse_events.ctcae_grades, name="ctcae-grades"),
    path("audit/", audit.audit_trail, name="audit-trail"),
]
