"""REST API v1 (SPEC §12). Every queryset starts from `visible_to(user)`; writes call services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import django_filters
from django.db.models import Prefetch, Q
from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from cases import access, clinical, exporting, services, workflow
from cases.errors import StateConflict
from cases.models import AdverseEvent, Advice, DoseRegimen, Drug, Export, Patient, Sample, Treatment
from reports import service as report_service

from . import serializers as s
from .permissions import ExportPermission, RolePermissions, ViewPermission


class ScopedViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """List and detail of the records the user may see; `create` parses, then calls a service."""

    permission_classes = [IsAuthenticated, RolePermissions]
    input_serializer_class: type[s.serializers.Serializer]
    create_service: Callable[..., Any]

    def get_queryset(self):
        return self.queryset.visible_to(self.request.user)

    def create(self, request, *args, **kwargs):
        serializer = self.input_serializer_class(
            data=request.data, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        created = type(self).create_service(actor=request.user, **serializer.validated_data)
        instance = self.get_queryset().get(pk=created.pk)
        return Response(self.get_serializer(instance).data, status=status.HTTP_201_CREATED)


def by_id(field: str) -> django_filters.NumberFilter:
    """Filter on a parent's id without checking that the parent exists: another site's id and
    an unused id must both answer with an empty list, or the answer reveals what exists."""
    return django_filters.NumberFilter(field_name=f"{field}_id")


class TreatmentFilter(django_filters.FilterSet):
    patient = by_id("patient")
    drug = django_filters.CharFilter(field_name="drug__name")

    class Meta:
        model = Treatment
        fields = ["patient", "drug"]


class DoseRegimenFilter(django_filters.FilterSet):
    treatment = by_id("treatment")

    class Meta:
        model = DoseRegimen
        fields = ["treatment", "reason"]


class AdverseEventFilter(django_filters.FilterSet):
    treatment = by_id("treatment")

    class Meta:
        model = AdverseEvent
        fields = ["treatment", "grade", "related"]


class AdviceFilter(django_filters.FilterSet):
    treatment = by_id("treatment")

    class Meta:
        model = Advice
        fields = ["treatment", "state", "kind", "action"]


class PatientFilter(django_filters.FilterSet):
    site = django_filters.CharFilter(field_name="site__code")
    q = django_filters.CharFilter(method="search", label="study number, name or record number")

    class Meta:
        model = Patient
        fields = ["site", "sex"]

    def search(self, queryset, name, value):
        value = value.strip()
        matches = Q(study_number__icontains=value)
        user = self.request.user
        if access.is_clinical_user(user):
            # Searching by identity only within the sites where the user may see identity.
            own = Q(site_id__in=access.member_site_ids(user))
            matches |= own & (Q(name__icontains=value) | Q(record_number__iexact=value))
        return queryset.filter(matches)


@extend_schema_view(
    create=extend_schema(request=s.PatientCreateSerializer, responses={201: s.PatientSerializer})
)
class PatientViewSet(ScopedViewSet):
    queryset = Patient.objects.select_related("site", "treating_physician", "responsible_nurse")
    serializer_class = s.PatientSerializer
    input_serializer_class = s.PatientCreateSerializer
    create_service = staticmethod(services.patient_create)
    filterset_class = PatientFilter


def _treatments_with_history():
    return Treatment.objects.select_related("patient", "drug").prefetch_related(
        Prefetch("regimens", queryset=DoseRegimen.objects.order_by("effective_from"))
    )


@extend_schema_view(
    create=extend_schema(
        request=s.TreatmentCreateSerializer, responses={201: s.TreatmentSerializer}
    )
)
class TreatmentViewSet(ScopedViewSet):
    queryset = _treatments_with_history()
    serializer_class = s.TreatmentSerializer
    input_serializer_class = s.TreatmentCreateSerializer
    create_service = staticmethod(services.treatment_create)
    filterset_class = TreatmentFilter

    @extend_schema(parameters=[s.ScheduleQuerySerializer], responses=s.ScheduleSerializer)
    @action(detail=True, methods=["get"])
    def schedule(self, request, pk=None):
        """Sampling due dates of SPEC §6, each with the sample that fulfils it."""
        treatment = self.get_object()
        query = s.ScheduleQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        due = clinical.treatment_schedule(treatment, until=query.validated_data.get("until"))
        return Response(s.ScheduleSerializer({"due": due}).data)


@extend_schema_view(
    create=extend_schema(
        request=s.DoseRegimenCreateSerializer, responses={201: s.DoseRegimenSerializer}
    )
)
class DoseRegimenViewSet(ScopedViewSet):
    queryset = DoseRegimen.objects.all()
    serializer_class = s.DoseRegimenSerializer
    input_serializer_class = s.DoseRegimenCreateSerializer
    create_service = staticmethod(services.dose_regimen_create)
    filterset_class = DoseRegimenFilter


class SampleFilter(django_filters.FilterSet):
    treatment = by_id("treatment")
    drawn_after = django_filters.IsoDateTimeFilter(field_name="drawn_at", lookup_expr="gte")
    drawn_before = django_filters.IsoDateTimeFilter(field_name="drawn_at", lookup_expr="lt")

    class Meta:
        model = Sample
        fields = ["treatment", "status", "evaluable"]


@extend_schema_view(
    create=extend_schema(request=s.SampleCreateSerializer, responses={201: s.SampleSerializer})
)
class SampleViewSet(ScopedViewSet):
    queryset = Sample.objects.all()
    serializer_class = s.SampleSerializer
    input_serializer_class = s.SampleCreateSerializer
    create_service = staticmethod(services.sample_record)

    @extend_schema(request=s.SampleResultSerializer, responses=s.SampleSerializer)
    @action(detail=True, methods=["post"])
    def result(self, request, pk=None):
        """Enter the lab result of a drawn sample (it is then computed and advised on)."""
        sample = self.get_object()
        data = s.SampleResultSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sample = services.sample_result(actor=request.user, sample=sample, **data.validated_data)
        return Response(self.get_serializer(sample).data)

    @extend_schema(request=s.SampleCancelSerializer, responses=s.SampleSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel a sample with a reason (clinical records are never deleted)."""
        sample = self.get_object()
        data = s.SampleCancelSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sample = services.sample_cancel(actor=request.user, sample=sample, **data.validated_data)
        return Response(self.get_serializer(sample).data)

    filterset_class = SampleFilter


@extend_schema_view(
    create=extend_schema(
        request=s.AdverseEventCreateSerializer, responses={201: s.AdverseEventSerializer}
    )
)
class AdverseEventViewSet(ScopedViewSet):
    queryset = AdverseEvent.objects.all()
    serializer_class = s.AdverseEventSerializer
    input_serializer_class = s.AdverseEventCreateSerializer
    create_service = staticmethod(services.adverse_event_record)
    filterset_class = AdverseEventFilter

    @extend_schema(request=s.AdverseEventResolveSerializer, responses=s.AdverseEventSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        """Record the date the event resolved (nothing else of an AE changes afterwards)."""
        event = self.get_object()
        serializer = s.AdverseEventResolveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        event = services.adverse_event_resolve(actor=request.user, event=event, **serializer.data)
        return Response(self.get_serializer(event).data)


class DrugViewSet(viewsets.ReadOnlyModelViewSet):
    """The drug catalogue; admins edit it in the admin, where every change is versioned."""

    queryset = Drug.objects.all()
    serializer_class = s.DrugSerializer
    filterset_fields = ["name", "indication", "metric"]
    permission_classes = [IsAuthenticated, RolePermissions]


class AdviceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Dosing advice and its sign-off: release (pharmacist), accept / reject (physician)."""

    queryset = Advice.objects.select_related("sample", "released_by", "decided_by")
    serializer_class = s.AdviceSerializer
    filterset_class = AdviceFilter
    permission_classes = [IsAuthenticated, RolePermissions]

    def get_queryset(self):
        return self.queryset.visible_to(self.request.user)

    def get_permissions(self):
        if self.action in {"release", "accept", "reject"}:
            # Reading the advice needs `view`; the step itself is checked by its service
            # (release_advice / sign_advice and membership of the patient's site).
            return [IsAuthenticated(), ViewPermission()]
        return super().get_permissions()

    def _step(self, request, input_class, service):
        """Parse the step's input, let the workflow service decide, answer with the advice."""
        advice = self.get_object()
        data = input_class(data=request.data)
        data.is_valid(raise_exception=True)
        done = service(actor=request.user, advice=advice, **data.validated_data)
        return Response(self.get_serializer(self.get_queryset().get(pk=done.pk)).data)

    @extend_schema(request=s.AdviceReleaseSerializer, responses=s.AdviceSerializer)
    @action(detail=True, methods=["post"])
    def release(self, request, pk=None):
        return self._step(request, s.AdviceReleaseSerializer, workflow.advice_release)

    @extend_schema(request=s.AdviceAcceptSerializer, responses=s.AdviceSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return self._step(request, s.AdviceAcceptSerializer, workflow.advice_accept)

    @extend_schema(request=s.AdviceRejectSerializer, responses=s.AdviceSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._step(request, s.AdviceRejectSerializer, workflow.advice_reject)

    @extend_schema(
        parameters=[OpenApiParameter("copy", str, enum=["clinical", "pseudonymised"])],
        responses={(200, "application/pdf"): OpenApiTypes.BINARY},
    )
    def report(self, request, pk=None):
        """The advice report as PDF: signed once decided; pseudonymised for data managers."""
        advice = self.get_object()
        pseudonymised = request.query_params.get("copy") == "pseudonymised" or not (
            access.sees_identity(request.user, advice.treatment.patient)
        )
        filename = f"etdm-advice-{advice.pk}.pdf"
        if pseudonymised:
            content = report_service.pseudonymised_pdf(advice)
        else:
            content = report_service.stored_pdf(advice)
        response = HttpResponse(content, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{filename}"'
        return response


class ExportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Pseudonymised study exports (SPEC §9): start one, follow its progress, download it."""

    serializer_class = s.ExportSerializer
    permission_classes = [IsAuthenticated, ExportPermission]
    queryset = Export.objects.select_related("requested_by")

    def get_queryset(self):
        return exporting.exports_visible_to(self.request.user).select_related("requested_by")

    @extend_schema(request=s.ExportCreateSerializer, responses={201: s.ExportSerializer})
    def create(self, request, *args, **kwargs):
        data = s.ExportCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        export = exporting.export_request(actor=request.user, **data.validated_data)
        return Response(self.get_serializer(export).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        export = self.get_object()
        if export.state != Export.State.DONE:
            raise StateConflict(f"The export is {export.state}, not ready yet.")
        path = exporting.export_file(export, actor=request.user)
        return FileResponse(path.open("rb"), as_attachment=True, filename=export.filename)
