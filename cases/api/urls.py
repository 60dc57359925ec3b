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

urlpatterns = [
    path("auth/token/", obtain_auth_token, name="api-token"),
    path("", include(router.urls)),
]
