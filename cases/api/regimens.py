"""The dose-regimens resource of the API: prescribing, withdrawing, marking entered in error."""

from __future__ import annotations

import django_filters
from django.db.models import F
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from cases import services
from cases.api.base import ScopedViewSet, by_id
from cases.api.fields import NumberField, VisibleRelatedField
from cases.api.permissions import ViewPermission
from cases.models import DoseRegimen, Treatment


class DoseRegimenSerializer(serializers.ModelSerializer):
    daily_dose_mg = NumberField()
    advice = serializers.IntegerField(
        source="advice_id",
        read_only=True,
        allow_null=True,
        help_text="The advice that prescribed this dose",
    )

    class Meta:
        model = DoseRegimen
        fields = [
            "id", "treatment", "effective_from", "daily_dose_mg", "administrations_per_day",
            "split_mg", "reason", "advice", "off_label", "off_label_reason", "status",
            "status_reason", "status_changed_at", "created_at",
        ]  # fmt: skip


class OffLabelMixin(serializers.Serializer):
    off_label_confirmed = serializers.BooleanField(required=False, default=False)
    off_label_reason = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )

    def validate(self, attrs):
        attrs = super().validate(attrs)
        confirmed = attrs.pop("off_label_confirmed")
        reason = attrs.get("off_label_reason", "").strip()
        if confirmed and not reason:
            raise serializers.ValidationError(
                {"off_label_reason": ["Give the reason for the off-label dose."]}
            )
        attrs["off_label_reason"] = reason if confirmed else ""
        return attrs


class DoseRegimenCreateSerializer(OffLabelMixin):
    treatment = VisibleRelatedField(queryset=Treatment.objects.all())
    effective_from = serializers.DateField()
    daily_dose_mg = serializers.DecimalField(max_digits=8, decimal_places=2)
    administrations_per_day = serializers.IntegerField()
    reason = serializers.ChoiceField(
        choices=[c for c in DoseRegimen.Reason.choices if c[0] != DoseRegimen.Reason.START]
    )


class DoseRegimenFilter(django_filters.FilterSet):
    treatment = by_id("treatment")

    class Meta:
        model = DoseRegimen
        fields = ["treatment", "reason", "status"]


class RegimenStatusSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, allow_blank=True)


def regimens_with_advice():
    # The id of the advice that prescribed each dose, without loading the advice rows.
    return DoseRegimen.objects.annotate(advice_id=F("advice__id"))


@extend_schema_view(
    create=extend_schema(
        request=DoseRegimenCreateSerializer, responses={201: DoseRegimenSerializer}
    )
)
class DoseRegimenViewSet(ScopedViewSet):
    queryset = regimens_with_advice()
    serializer_class = DoseRegimenSerializer
    input_serializer_class = DoseRegimenCreateSerializer
    create_service = staticmethod(services.dose_regimen_create)
    filterset_class = DoseRegimenFilter

    @extend_schema(request=RegimenStatusSerializer, responses=DoseRegimenSerializer)
    @action(detail=True, methods=["post"], permission_classes=[ViewPermission])
    def withdraw(self, request, pk=None, format=None):
        """Withdraw a regimen not yet in effect, with a reason (409 once it is in effect)."""
        return self._change_status(request, services.dose_regimen_withdraw)

    @extend_schema(request=RegimenStatusSerializer, responses=DoseRegimenSerializer)
    @action(
        detail=True,
        methods=["post"],
        url_path="entered-in-error",
        permission_classes=[ViewPermission],
    )
    def entered_in_error(self, request, pk=None, format=None):
        """Mark a regimen already in effect as entered in error, with a reason (physician)."""
        return self._change_status(request, services.dose_regimen_mark_in_error)

    def _change_status(self, request, service):
        regimen = self.get_object()
        data = RegimenStatusSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        service(actor=request.user, regimen=regimen, **data.validated_data)
        return Response(self.get_serializer(self.get_queryset().get(pk=regimen.pk)).data)
