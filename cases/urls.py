from django.urls import path

from . import advice_views, audit_views, entry_views, notification_views, views, worklist_views

urlpatterns = [
    path("", views.home, name="home"),
    path("worklist/", worklist_views.worklist, name="worklist"),
    path("patients/", views.patient_list, name="patient-list"),
    path("patients/new/", entry_views.patient_create, name="patient-create"),
    path("patients/<int:pk>/", views.patient_detail, name="patient-detail"),
    path(
        "patients/<int:pk>/treatments/new/",
        entry_views.treatment_create,
        name="treatment-create",
    ),
    path(
        "treatments/dose-fields/", entry_views.treatment_dose_fields, name="treatment-dose-fields"
    ),
    path("treatments/<int:pk>/", views.treatment_detail, name="treatment-detail"),
    path("treatments/<int:pk>/dose/", entry_views.dose_change, name="dose-change"),
    path("treatments/<int:pk>/stop/", entry_views.treatment_stop, name="treatment-stop"),
    path("treatments/<int:pk>/samples/new/", entry_views.sample_create, name="sample-create"),
    path("treatments/<int:pk>/samples/preview/", entry_views.sample_preview, name="sample-preview"),
    path(
        "treatments/<int:pk>/adverse-events/new/",
        entry_views.adverse_event_create,
        name="adverse-event-create",
    ),
    path("samples/<int:pk>/", views.sample_detail, name="sample-detail"),
    path("samples/<int:pk>/result/", entry_views.sample_result, name="sample-result"),
    path("samples/<int:pk>/cancel/", entry_views.sample_cancel, name="sample-cancel"),
    path("adverse-events/<int:pk>/", views.adverse_event_detail, name="adverse-event-detail"),
    path(
        "adverse-events/<int:pk>/resolve/",
        entry_views.adverse_event_resolve,
        name="adverse-event-resolve",
    ),
    path("ctcae/terms/", entry_views.ctcae_terms, name="ctcae-terms"),
    path("ctcae/grades/", entry_views.ctcae_grades, name="ctcae-grades"),
    path("advice/", advice_views.advice_queue, name="advice-queue"),
    path("advice/<int:pk>/", advice_views.advice_detail, name="advice-detail"),
    path("advice/<int:pk>/report.pdf", advice_views.advice_report, name="advice-report"),
    path("advice/<int:pk>/release/", advice_views.advice_release, name="advice-release"),
    path("advice/<int:pk>/accept/", advice_views.advice_accept, name="advice-accept"),
    path("advice/<int:pk>/reject/", advice_views.advice_reject, name="advice-reject"),
    path("notifications/", notification_views.notification_list, name="notification-list"),
    path(
        "notifications/<int:pk>/open/",
        notification_views.notification_open,
        name="notification-open",
    ),
    path(
        "notifications/read-all/",
        notification_views.notification_read_all,
        name="notification-read-all",
    ),
    path("audit/", audit_views.audit_trail, name="audit-trail"),
]
