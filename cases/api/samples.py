"""The samples resource of the API: logging, results, corrections, cancelling."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from cases import services
from cases.api.base import IsoDateTimeFilter, ScopedViewSet, by_id
from cases.api.fields import LocalDateTimeField, NumberField, UnitField, VisibleRelatedField
from cases.api.permissions import ViewPermission
from cases.models import Sample, Treatment

CONFIRM_HELP = (
    "true stores a value outside the drug's plausible range, or a last dose more than 7 days "
    "before the draw (docs/clinical-rules.md §1.1)"
)


class SampleSerializer(serializers.ModelSerializer):
    concentration = NumberField()
    concentration_ng_ml = NumberField()
    daily_dose_mg = NumberField()
    hours_after_dose = NumberField()
    ctrough_ng_ml = NumberField(source="estimated_ctrough_ng_ml")
    reasons = serializers.JSONField(source="not_evaluable_reasons", read_only=True)

    class Meta:
        model = Sample
        fields = [
            "id", "treatment", "status", "drawn_at", "last_dose_at", "daily_dose_mg",
            "administrations_per_day", "concentration", "unit", "below_lloq", "analytes",
            "lab_accession", "concentration_ng_ml", "hours_after_dose", "ctrough_ng_ml",
            "method", "evaluable", "reasons", "warnings", "confirmed_implausible",
            "cancel_reason", "created_at",
        ]  # fmt: skip


class SampleCreateSerializer(serializers.Serializer):
    treatment = VisibleRelatedField(queryset=Treatment.objects.all())
    drawn_at = LocalDateTimeField()
    last_dose_at = LocalDateTimeField(required=False, allow_null=True, default=None)
    concentration = serializers.DecimalField(
        max_digits=14, decimal_places=4, required=False, allow_null=True, default=None
    )
    unit = UnitField(required=False, default=Sample.Unit.NG_ML)
    below_lloq = serializers.BooleanField(required=False, default=False)
    lab_accession = serializers.CharField(
        max_length=60, required=False, allow_blank=True, default=""
    )
    analytes = serializers.DictField(
        child=serializers.DecimalField(max_digits=14, decimal_places=4, min_value=0),
        required=False,
        default=dict,
        help_text="ng/mL per analyte where the target is a sum (sunitinib + SU12662)",
    )
    confirm_implausible = serializers.BooleanField(
        required=False, default=False, help_text=CONFIRM_HELP
    )


class SampleResultSerializer(serializers.Serializer):
    concentration = serializers.DecimalField(
        max_digits=14, decimal_places=4, required=False, allow_null=True, default=None
    )
    unit = UnitField(required=False, default=Sample.Unit.NG_ML)
    below_lloq = serializers.BooleanField(required=False, default=False)
    confirm_implausible = serializers.BooleanField(
        required=False, default=False, help_text=CONFIRM_HELP
    )


class SampleCorrectSerializer(serializers.Serializer):
    """Only the fields given are corrected; the others keep their value."""

    drawn_at = LocalDateTimeField(required=False)
    last_dose_at = LocalDateTimeField(required=False, allow_null=True)
    concentration = serializers.DecimalField(
        max_digits=14, decimal_places=4, required=False, allow_null=True
    )
    unit = UnitField(required=False)
    below_lloq = serializers.BooleanField(required=False)
    reason = serializers.CharField(max_length=200, allow_blank=True)
    confirm_implausible = serializers.BooleanField(
        required=False, default=False, help_text=CONFIRM_HELP
    )


class SampleCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class SampleFilter(django_filters.FilterSet):
    treatment = by_id("treatment")
    drawn_after = IsoDateTimeFilter(field_name="drawn_at", lookup_expr="gte")
    drawn_before = IsoDateTimeFilter(field_name="drawn_at", lookup_expr="lt")

    class Meta:
        model = Sample
        fields = ["treatment", "status", "evaluable"]


@extend_schema_view(
    create=extend_schema(request=SampleCreateSerializer, responses={201: SampleSerializer})
)
class SampleViewSet(ScopedViewSet):
    queryset = Sample.objects.all()
    serializer_class = SampleSerializer
    input_serializer_class = SampleCreateSerializer
    create_service = staticmethod(services.sample_record)

    @extend_schema(request=SampleResultSerializer, responses=SampleSerializer)
    @action(detail=True, methods=["post"])
    def result(self, request, pk=None, format=None):
        """Enter the lab result of a drawn sample (it is then computed and advised on)."""
        sample = self.get_object()
        data = SampleResultSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sample = services.sample_result(actor=request.user, sample=sample, **data.validated_data)
        return Response(self.get_serializer(sample).data)

    @extend_schema(request=SampleCorrectSerializer, responses=SampleSerializer)
    @action(detail=True, methods=["post"], permission_classes=[ViewPermission])
    def correct(self, request, pk=None, format=None):
        """Correct a drawn or resulted sample's times or result with a reason (nurse or
        pharmacist of the site: the service checks `cases.correct_sample`)."""
        sample = self.get_object()
        data = SampleCorrectSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.sample_correct(actor=request.user, sample=sample, **data.validated_data)
        return Response(self.get_serializer(self.get_queryset().get(pk=sample.pk)).data)

    @extend_schema(request=SampleCancelSerializer, responses=SampleSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None, format=None):
        """Cancel a sample with a reason (clinical records are never deleted)."""
        sample = self.get_object()
        data = SampleCancelSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sample = services.sample_cancel(actor=request.user, sample=sample, **data.validated_data)
        return Response(self.get_serializer(sample).data)

    filterset_class = SampleFilter
