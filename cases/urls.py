from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("patients/", views.patient_list, name="patient-list"),
    path("patients/<int:pk>/", views.patient_detail, name="patient-detail"),
    path("treatments/<int:pk>/", views.treatment_detail, name="treatment-detail"),
    path("samples/<int:pk>/", views.sample_detail, name="sample-detail"),
    path("adverse-events/<int:pk>/", views.adverse_event_detail, name="adverse-event-detail"),
]
