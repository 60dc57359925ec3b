"""The REST API under /api/v1/: one router for every app's resources (docs/api.md)."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from advice.api import AdviceViewSet
from cases.api.adverse_events import AdverseEventViewSet
from cases.api.drugs import DrugViewSet
from cases.api.patients import PatientViewSet
from cases.api.regimens import DoseRegimenViewSet
from cases.api.samples import SampleViewSet
from cases.api.treatments import TreatmentViewSet
from reports.api import AdviceReportViewSet
from study.api import ExportViewSet
from tdm_site.tokens import LogoutView, TokenView

router = DefaultRouter()
router.register("patients", PatientViewSet)
router.register("treatments", TreatmentViewSet)
router.register("dose-regimens", DoseRegimenViewSet)
router.register("samples", SampleViewSet)
router.register("adverse-events", AdverseEventViewSet)
router.register("drugs", DrugViewSet)
router.register("advice", AdviceViewSet)
router.register("exports", ExportViewSet)

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="api-token"),
    path("auth/logout/", LogoutView.as_view(), name="api-logout"),
    # The report's documented address has no trailing slash, unlike the router's resources.
    path(
        "advice/<int:pk>/report.pdf",
        AdviceReportViewSet.as_view({"get": "report"}),
        name="advice-report-pdf",
    ),
    path("", include(router.urls)),
]
