"""The drug catalogue, read-only in the API."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, viewsets
from rest_framework.permissions import IsAuthenticated

from advice.engine.case_input import json_number
from cases.api.permissions import RolePermissions
from cases.models import Drug


class DrugSerializer(serializers.ModelSerializer):
    dose_levels_mg = serializers.SerializerMethodField()
    strengths_mg = serializers.SerializerMethodField()

    class Meta:
        model = Drug
        exclude = ["created_at", "updated_at"]

    @extend_schema_field(serializers.ListField(child=serializers.FloatField()))
    def get_dose_levels_mg(self, drug: Drug) -> list:
        return [json_number(v) for v in drug.facts().dose_levels_mg]

    @extend_schema_field(serializers.ListField(child=serializers.FloatField()))
    def get_strengths_mg(self, drug: Drug) -> list:
        return [json_number(v) for v in drug.facts().strengths_mg]


class DrugViewSet(viewsets.ReadOnlyModelViewSet):
    """The drug catalogue; admins edit it in the admin, where every change is versioned."""

    queryset = Drug.objects.all()
    serializer_class = DrugSerializer
    filterset_fields = ["name", "indication", "metric"]
    permission_classes = [IsAuthenticated, RolePermissions]
