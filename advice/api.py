"""The advice resource of the API: reading advice, its report, and the workflow steps."""

from __future__ import annotations

import django_filters
from django.db.models import Exists, OuterRef
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from advice import services as advice_services
from advice.models import Advice
from cases.api.base import by_id
from cases.api.fields import NumberField
from cases.api.permissions import RolePermissions, ViewPermission


class AdviceSerializer(serializers.ModelSerializer):
    """An advice with the keys of the `advise` output (docs/clinical-rules.md §11) and its
    workflow (docs/workflow.md)."""

    hours_after_dose = NumberField(source="sample.hours_after_dose", default=None)
    method = serializers.CharField(source="sample.method", default=None, read_only=True)
    ctrough_ng_ml = NumberField()
    target_ng_ml = NumberField()
    current_daily_dose_mg = NumberField()
    proposed_daily_dose_mg = NumberField()
    predicted_ctrough_ng_ml = NumberField()
    released_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    after_correction = serializers.BooleanField(
        read_only=True,
        help_text="Computed again after its sample was corrected (an earlier advice of the "
        "sample exists; `follows` names it when it was signed)",
    )
    report_url = serializers.SerializerMethodField()

    class Meta:
        model = Advice
        fields = [
            "id", "treatment", "sample", "adverse_event", "kind", "state", "evaluable",
            "reasons", "hours_after_dose", "ctrough_ng_ml", "method", "target_ng_ml", "action",
            "current_daily_dose_mg", "proposed_daily_dose_mg",
            "proposed_administrations_per_day", "proposed_split_mg", "predicted_ctrough_ng_ml",
            "warnings", "checks", "text", "provisional", "edited", "computed", "released_by",
            "released_at", "decided_by", "decided_at", "rejection_reason", "checks_confirmed",
            "effective_date", "dose_regimen", "withdrawal_reason", "follows",
            "after_correction", "report_sha256", "signed_report_sha256", "report_url",
            "created_at",
        ]  # fmt: skip

    def get_report_url(self, advice: Advice) -> str:
        return f"/api/v1/advice/{advice.pk}/report.pdf"


class AdviceReleaseSerializer(serializers.Serializer):
    text = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    proposed_daily_dose_mg = serializers.DecimalField(
        max_digits=8, decimal_places=2, required=False, min_value=0
    )
    proposed_administrations_per_day = serializers.IntegerField(
        required=False, min_value=1, max_value=4
    )


class AdviceAcceptSerializer(serializers.Serializer):
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    effective_date = serializers.DateField(required=False, allow_null=True, default=None)
    checks_confirmed = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, default=list
    )


class AdviceRejectSerializer(serializers.Serializer):
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class AdviceWithdrawSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class AdviceFilter(django_filters.FilterSet):
    treatment = by_id("treatment")

    class Meta:
        model = Advice
        fields = ["treatment", "state", "kind", "action"]


class AdviceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Dosing advice and its sign-off: release or withdraw (pharmacist), accept / reject
    (physician)."""

    queryset = Advice.objects.select_related("sample", "released_by", "decided_by")
    serializer_class = AdviceSerializer
    filterset_class = AdviceFilter
    permission_classes = [IsAuthenticated, RolePermissions]

    def get_queryset(self):
        earlier = Advice.objects.filter(sample=OuterRef("sample"), pk__lt=OuterRef("pk"))
        # A sample is advised on once, and again only after a correction.
        return self.queryset.visible_to(self.request.user).annotate(
            after_correction=Exists(earlier)
        )

    def get_permissions(self):
        if self.action in {"release", "accept", "reject", "withdraw"}:
            # Reading the advice needs `view`; the step itself is checked by its service
            # (release_advice / sign_advice / withdraw_advice and membership of the patient's
            # site).
            return [IsAuthenticated(), ViewPermission()]
        return super().get_permissions()

    def _step(self, request, input_class, service):
        """Parse the step's input, let the workflow service decide, answer with the advice."""
        advice = self.get_object()
        data = input_class(data=request.data)
        data.is_valid(raise_exception=True)
        done = service(actor=request.user, advice=advice, **data.validated_data)
        return Response(self.get_serializer(self.get_queryset().get(pk=done.pk)).data)

    @extend_schema(request=AdviceReleaseSerializer, responses=AdviceSerializer)
    @action(detail=True, methods=["post"])
    def release(self, request, pk=None, format=None):
        return self._step(request, AdviceReleaseSerializer, advice_services.advice_release)

    @extend_schema(request=AdviceAcceptSerializer, responses=AdviceSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None, format=None):
        return self._step(request, AdviceAcceptSerializer, advice_services.advice_accept)

    @extend_schema(request=AdviceRejectSerializer, responses=AdviceSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None, format=None):
        return self._step(request, AdviceRejectSerializer, advice_services.advice_reject)

    @extend_schema(request=AdviceWithdrawSerializer, responses=AdviceSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None, format=None):
        return self._step(request, AdviceWithdrawSerializer, advice_services.advice_withdraw)
