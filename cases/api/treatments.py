"""The treatments resource of the API, a treatment's schedule and its extra samples."""

from __future__ import annotations

import datetime
from decimal import Decimal

import django_filters
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from advice.engine.case_input import json_number
from cases import clinical, regimens, services
from cases.api.base import ScopedViewSet, by_id
from cases.api.fields import VisiblePatientField
from cases.api.permissions import ViewPermission
from cases.api.regimens import DoseRegimenSerializer, OffLabelMixin, regimens_with_advice
from cases.models import DoseRegimen, Drug, ExtraDueDate, Treatment


class TreatmentSerializer(serializers.ModelSerializer):
    patient = serializers.SlugRelatedField(slug_field="study_number", read_only=True)
    patient_id = serializers.IntegerField(read_only=True)
    drug = serializers.CharField(source="drug.name", read_only=True)
    indication = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    phase = serializers.SerializerMethodField()
    current_daily_dose_mg = serializers.SerializerMethodField()
    current_administrations_per_day = serializers.SerializerMethodField()
    regimens = DoseRegimenSerializer(many=True, read_only=True)

    class Meta:
        model = Treatment
        fields = [
            "id", "patient", "patient_id", "drug", "indication", "start_date", "stop_date",
            "stop_reason", "status", "phase", "current_daily_dose_mg",
            "current_administrations_per_day", "regimens", "created_at",
        ]  # fmt: skip

    def get_indication(self, treatment: Treatment) -> str | None:
        return treatment.drug.indication or None

    def get_status(self, treatment: Treatment) -> str:
        return treatment.status_on(timezone.localdate())

    def get_phase(self, treatment: Treatment) -> str:
        return treatment.phase_on(timezone.localdate())

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_current_daily_dose_mg(self, treatment: Treatment):
        regimen = treatment.regimen_on(timezone.localdate())
        return json_number(regimen.daily_dose_mg) if regimen else None

    def get_current_administrations_per_day(self, treatment: Treatment) -> int | None:
        regimen = treatment.regimen_on(timezone.localdate())
        return regimen.administrations_per_day if regimen else None


class TreatmentCreateSerializer(OffLabelMixin):
    patient = VisiblePatientField()
    drug = serializers.CharField(max_length=60)
    indication = serializers.CharField(
        max_length=40, required=False, allow_null=True, allow_blank=True, default=None
    )
    start_date = serializers.DateField()
    daily_dose_mg = serializers.DecimalField(max_digits=8, decimal_places=2)
    administrations_per_day = serializers.IntegerField()
    overlap_reason = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="Why a second live treatment of the same drug is intended",
    )

    def validate(self, attrs):
        attrs = super().validate(attrs)
        name = attrs.pop("drug").strip().lower()
        indication = (attrs.pop("indication") or "").strip().lower()
        rows = list(Drug.objects.filter(name=name))
        if not rows:
            raise serializers.ValidationError({"drug": [f"Unknown drug {name!r}."]})
        listed = sorted(row.indication for row in rows)
        matching = [row for row in rows if row.indication == indication]
        if not matching:
            if listed == [""]:
                message = f"{name} has no indication variants; leave indication empty."
            else:
                message = f"{name} needs an indication: one of {', '.join(listed)}."
            raise serializers.ValidationError({"indication": [message]})
        attrs["drug"] = matching[0]
        return attrs


class DueDateSerializer(serializers.Serializer):
    date = serializers.DateField()
    kind = serializers.ChoiceField(choices=["regular", "post_change", "extra"])
    fulfilled_by = serializers.IntegerField(allow_null=True, help_text="id of the sample")


class ScheduleSerializer(serializers.Serializer):
    due = DueDateSerializer(many=True)


class ExtraDueDateSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="who asked for it"
    )

    class Meta:
        model = ExtraDueDate
        fields = ["id", "treatment", "date", "reason", "created_by", "created_at"]


class ExtraDueDateCreateSerializer(serializers.Serializer):
    date = serializers.DateField(help_text="the day the extra sample is due: today or later")
    reason = serializers.CharField(
        max_length=200, allow_blank=True, help_text='why, e.g. "re-sample after a rejected advice"'
    )


class ScheduleQuerySerializer(serializers.Serializer):
    until = serializers.DateField(
        required=False, help_text="last day to list (default: one year from today)"
    )


class TreatmentFilter(django_filters.FilterSet):
    patient = by_id("patient")
    drug = django_filters.CharFilter(field_name="drug__name")

    class Meta:
        model = Treatment
        fields = ["patient", "drug"]


# The detail of one treatment is the API's most frequent read. It is read as plain values in one
# query, its regimens joined (one row each, oldest first), and written out as TreatmentSerializer
# writes it: half the time of model instances, a prefetch and the serializer's fields built on
# every request (tests/cases/api/test_treatment_detail.py holds the two to the same bytes).
REGIMEN_COLUMNS = (
    "id", "effective_from", "daily_dose_mg", "administrations_per_day", "split_mg", "reason",
    "advice__id", "off_label", "off_label_reason", "status", "status_reason",
    "status_changed_at", "created_at",
)  # fmt: skip
DETAIL_COLUMNS = (
    "id", "patient__study_number", "patient_id", "drug__name", "drug__indication",
    "drug__standard_daily_dose_mg", "start_date", "stop_date", "stop_reason", "created_at",
    *(f"regimens__{column}" for column in REGIMEN_COLUMNS),
)  # fmt: skip
# Its columns resolved once, not on every request.
DETAIL_ROWS = Treatment.objects.values(*DETAIL_COLUMNS).order_by(
    "regimens__effective_from", "regimens__id"
)
_MOMENT = serializers.DateTimeField()


def _day(value: datetime.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _moment(value: datetime.datetime | None) -> str | None:
    return None if value is None else _MOMENT.to_representation(value)


def _regimen(row: dict, treatment_id: int) -> dict[str, object]:
    return {
        "id": row["regimens__id"],
        "treatment": treatment_id,
        "effective_from": _day(row["regimens__effective_from"]),
        "daily_dose_mg": json_number(row["regimens__daily_dose_mg"]),
        "administrations_per_day": row["regimens__administrations_per_day"],
        "split_mg": row["regimens__split_mg"],
        "reason": row["regimens__reason"],
        "advice": row["regimens__advice__id"],
        "off_label": row["regimens__off_label"],
        "off_label_reason": row["regimens__off_label_reason"],
        "status": row["regimens__status"],
        "status_reason": row["regimens__status_reason"],
        "status_changed_at": _moment(row["regimens__status_changed_at"]),
        "created_at": _moment(row["regimens__created_at"]),
    }


def treatment_detail(rows: list[dict], *, today: datetime.date) -> dict[str, object]:
    """TreatmentSerializer's output for one treatment from its DETAIL_COLUMNS rows."""
    first = rows[0]
    with_regimens = [row for row in rows if row["regimens__id"] is not None]
    history = [
        regimens.DoseStep(
            effective_from=row["regimens__effective_from"],
            daily_dose_mg=Decimal(row["regimens__daily_dose_mg"]),
            administrations_per_day=row["regimens__administrations_per_day"],
        )
        for row in with_regimens
        if row["regimens__status"] == DoseRegimen.Status.ACTIVE
    ]
    current = regimens.step_on(today, history)
    return {
        "id": first["id"],
        "patient": first["patient__study_number"],
        "patient_id": first["patient_id"],
        "drug": first["drug__name"],
        "indication": first["drug__indication"] or None,
        "start_date": _day(first["start_date"]),
        "stop_date": _day(first["stop_date"]),
        "stop_reason": first["stop_reason"],
        "status": regimens.status_on(today, history, first["stop_date"]),
        "phase": regimens.phase_on(today, history, first["drug__standard_daily_dose_mg"]),
        "current_daily_dose_mg": json_number(current.daily_dose_mg) if current else None,
        "current_administrations_per_day": current.administrations_per_day if current else None,
        "regimens": [_regimen(row, first["id"]) for row in with_regimens],
        "created_at": _moment(first["created_at"]),
    }


def _treatments_with_history():
    return Treatment.objects.select_related("patient", "drug").prefetch_related(
        Prefetch("regimens", queryset=regimens_with_advice().order_by("effective_from", "id"))
    )


@extend_schema_view(
    create=extend_schema(request=TreatmentCreateSerializer, responses={201: TreatmentSerializer})
)
class TreatmentViewSet(ScopedViewSet):
    queryset = _treatments_with_history()
    serializer_class = TreatmentSerializer
    input_serializer_class = TreatmentCreateSerializer
    create_service = staticmethod(services.treatment_create)
    filterset_class = TreatmentFilter

    def retrieve(self, request, pk=None, format=None):
        found = DETAIL_ROWS.visible_to(request.user)
        # Without a query string the list's filters narrow nothing: built only for one.
        if request.query_params:
            found = self.filter_queryset(found)
        try:
            rows = list(found.filter(pk=pk))
        except (TypeError, ValueError, ValidationError):
            rows = []
        if not rows:
            raise Http404
        return Response(treatment_detail(rows, today=timezone.localdate()))

    @extend_schema(parameters=[ScheduleQuerySerializer], responses=ScheduleSerializer)
    @action(detail=True, methods=["get"])
    def schedule(self, request, pk=None, format=None):
        """Sampling due dates (docs/sampling-schedule.md), each with the sample that fulfils
        it."""
        treatment = self.get_object()
        query = ScheduleQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        due = clinical.treatment_schedule(treatment, until=query.validated_data.get("until"))
        return Response(ScheduleSerializer({"due": due}).data)

    @extend_schema(methods=["GET"], responses=ExtraDueDateSerializer(many=True), request=None)
    @extend_schema(
        methods=["POST"],
        request=ExtraDueDateCreateSerializer,
        responses={201: ExtraDueDateSerializer},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        url_path="extra-samples",
        permission_classes=[ViewPermission],
        # The list is one treatment's few dates: neither paged nor filtered.
        pagination_class=None,
        filter_backends=[],
    )
    def extra_samples(self, request, pk=None, format=None):
        """The extra samples asked for (GET), or ask for one on a date with a reason (POST; a
        nurse, pharmacist or physician of the site): it is a due date of kind `extra`."""
        treatment = self.get_object()
        if request.method == "GET":
            if not request.user.has_perm("cases.view_extraduedate"):
                raise PermissionDenied("Your role does not see extra samples.")
            extras = treatment.extra_due_dates.select_related("created_by").order_by("date")
            return Response(ExtraDueDateSerializer(extras, many=True).data)
        data = ExtraDueDateCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        extra = services.extra_due_date_create(
            actor=request.user, treatment=treatment, **data.validated_data
        )
        return Response(ExtraDueDateSerializer(extra).data, status=status.HTTP_201_CREATED)
