"""The patients resource of the API."""

from __future__ import annotations

import django_filters
from django.db.models import Q
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers

from cases import access, services
from cases.api.base import ScopedViewSet
from cases.api.fields import UserField, WorkSiteField, request_user
from cases.models import Patient


class PatientSerializer(serializers.ModelSerializer):
    site = serializers.SlugRelatedField(slug_field="code", read_only=True)
    treating_physician = serializers.SlugRelatedField(slug_field="username", read_only=True)
    responsible_nurse = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Patient
        fields = [
            "id", "study_number", "site", "sex", "birth_year", "tumour", "tumour_code", "name",
            "record_number", "treating_physician", "responsible_nurse", "created_at",
        ]  # fmt: skip

    def to_representation(self, patient: Patient) -> dict:
        data = super().to_representation(patient)
        if not access.sees_identity(request_user(self), patient):
            # Identity is for clinical users of the patient's own site only (docs/access.md).
            data.pop("name")
            data.pop("record_number")
        return data


class PatientCreateSerializer(serializers.Serializer):
    study_number = serializers.CharField(max_length=32)
    site = WorkSiteField()
    sex = serializers.ChoiceField(choices=Patient.Sex.choices)
    birth_year = serializers.IntegerField(min_value=1900)
    tumour = serializers.CharField(max_length=200)
    tumour_code = serializers.CharField(max_length=20, required=False, allow_blank=True)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    record_number = serializers.CharField(max_length=40, required=False, allow_blank=True)
    treating_physician = UserField(required=False, allow_null=True)
    responsible_nurse = UserField(required=False, allow_null=True)


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
    create=extend_schema(request=PatientCreateSerializer, responses={201: PatientSerializer})
)
class PatientViewSet(ScopedViewSet):
    queryset = Patient.objects.select_related("site", "treating_physician", "responsible_nurse")
    serializer_class = PatientSerializer
    input_serializer_class = PatientCreateSerializer
    create_service = staticmethod(services.patient_create)
    filterset_class = PatientFilter
