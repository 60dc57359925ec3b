from django.urls import include, path
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("patients", views.PatientViewSet)
router.register("treatments", views.TreatmentViewSet)
router.register("dose-regimens", views.DoseRegimenViewSet)
router.register("samples", views.SampleViewSet)
router.register("adverse-events", views.AdverseEventViewSet)
router.register("drugs", views.DrugViewSet)
router.register("advice", views.AdviceViewSet)
router.register("exports", views.ExportViewSet)

urlpatterns = [
    path("auth/token/", obtain_auth_token, name="api-token"),
    # SPEC §12 names the file without a trailing slash, unlike the router's resources.
    path(
        "advice/<int:pk>/report.pdf",
        views.AdviceViewSet.as_view({"get": "report"}),
        name="advice-report-pdf",
    ),
    path("", include(router.urls)),
]
