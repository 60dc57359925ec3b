from django.urls import path

from . import advice_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("patients/", views.patient_list, name="patient-list"),
    path("patients/<int:pk>/", views.patient_detail, name="patient-detail"),
    path("treatments/<int:pk>/", views.treatment_detail, name="treatment-detail"),
    path("samples/<int:pk>/", views.sample_detail, name="sample-detail"),
    path("adverse-events/<int:pk>/", views.adverse_event_detail, name="adverse-event-detail"),
    path("advice/", advice_views.advice_queue, name="advice-queue"),
    path("advice/<int:pk>/", advice_views.advice_detail, name="advice-detail"),
    path("advice/<int:pk>/report.pdf", advice_views.advice_report, name="advice-report"),
    path("advice/<int:pk>/release/", advice_views.advice_release, name="advice-release"),
    path("advice/<int:pk>/accept/", advice_views.advice_accept, name="advice-accept"),
    path("advice/<int:pk>/reject/", advice_views.advice_reject, name="advice-reject"),
]
