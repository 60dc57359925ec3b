from django.urls import path

from reports import views

urlpatterns = [
    path("advice/<int:pk>/report.pdf", views.advice_report, name="advice-report"),
]
