"""API representations. Input serializers parse and look up; services validate and write."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from advice.engine import units
from advice.engine.case_input import json_number
from cases import access
from cases.models import (
    AdverseEvent,
    Advice,
    DoseRegimen,
    Drug,
    Export,
    Patient,
    Sample,
    Site,
    Treatment,
)

User = get_user_model()


@extend_schema_field(serializers.FloatField(allow_null=True))
class NumberField(serializers.ReadOnlyField):
    """A stored Decimal as a plain JSON number: 600 for 600.00, 37.5 for 37.50."""

    def to_representation(self, value):
        return json_number(value)


def _request_user(serializer: serializers.Serializer):
    return serializer.context["request"].user


class VisibleRelatedField(serializers.PrimaryKeyRelatedField):
    """A reference to a record the requesting user may see; others are 'not found'."""

    def get_queryset(self):
        return self.queryset.visible_to(self.context["request"].user)


class VisiblePatientField(serializers.SlugRelatedField):
    """A patient by study number, among the patients the requesting user may see."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="study_number", queryset=Patient.objects.all(), **kwargs)

    def get_queryset(self):
        return Patient.objects.visible_to(self.context["request"].user)


class WorkSiteField(serializers.SlugRelatedField):
    """A site by code, among the sites the requesting user works at."""

    default_error_messages = {"does_not_exist": "Unknown site {value}."}

    def __init__(self, **kwargs):
        super().__init__(slug_field="code", queryset=Site.objects.all(), **kwargs)

    def get_queryset(self):
        user = self.context["request"].user
        if user.is_superuser:
            return Site.objects.all()
        return Site.objects.filter(pk__in=access.member_site_ids(user))


class UserField(serializers.SlugRelatedField):
    default_error_messages = {"does_not_exist": "Unknown user {value}."}

    def __init__(self, **kwargs):
        super().__init__(
            slug_field="username", queryset=User.objects.filter(is_active=True), **kwargs
        )


class LocalDateTimeField(serializers.DateTimeField):
    """A date-time; one without UTC offset is read in the installation's time zone, unless the
    clocks change at that hour (skipped or repeated): then it is not one moment, and refused."""

    def enforce_timezone(self, value):
        if timezone.is_naive(value):
            zone = timezone.get_current_timezone()
            first, second = value.replace(tzinfo=zone, fold=0), value.replace(tzinfo=zone, fold=1)
            if first.utcoffset() != second.utcoffset():
                raise serializers.ValidationError(
                    f"{value:%Y-%m-%d %H:%M} is not a single moment in {zone} (the clocks "
                    "change then); give the UTC offset, e.g. +01:00 or +02:00."
                )
        return super().enforce_timezone(value)


class UnitField(serializers.CharField):
    """A concentration unit, spelt as labs spell it (`ug/L` for µg/L)."""

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        try:
            return units.canonical_unit(text)
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from None


# Output -----------------------------------------------------------------------------------------


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
        if not access.sees_identity(_request_user(self), patient):
            # Identity is for clinical users of the patient's own site only (SPEC §2).
            data.pop("name")
            data.pop("record_number")
        return data


class DoseRegimenSerializer(serializers.ModelSerializer):
    daily_dose_mg = NumberField()

    class Meta:
        model = DoseRegimen
        fields = [
            "id", "treatment", "effective_from", "daily_dose_mg", "administrations_per_day",
            "split_mg", "reason", "advice", "off_label", "off_label_reason", "created_at",
        ]  # fmt: skip


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
            "method", "evaluable", "reasons", "warnings", "cancel_reason", "created_at",
        ]  # fmt: skip


class AdverseEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AdverseEvent
        fields = [
            "id", "treatment", "term", "meddra_code", "other_specify", "grade", "onset",
            "resolved", "related", "action", "occurrence", "entered_in_error", "created_at",
        ]  # fmt: skip


# Input ------------------------------------------------------------------------------------------


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


class TreatmentCreateSerializer(OffLabelMixin):
    patient = VisiblePatientField()
    drug = serializers.CharField(max_length=60)
    indication = serializers.CharField(
        max_length=40, required=False, allow_null=True, allow_blank=True, default=None
    )
    start_date = serializers.DateField()
    daily_dose_mg = serializers.DecimalField(max_digits=8, decimal_places=2)
    administrations_per_day = serializers.IntegerField()

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


class DoseRegimenCreateSerializer(OffLabelMixin):
    treatment = VisibleRelatedField(queryset=Treatment.objects.all())
    effective_from = serializers.DateField()
    daily_dose_mg = serializers.DecimalField(max_digits=8, decimal_places=2)
    administrations_per_day = serializers.IntegerField()
    reason = serializers.ChoiceField(
        choices=[c for c in DoseRegimen.Reason.choices if c[0] != DoseRegimen.Reason.START]
    )


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


class SampleResultSerializer(serializers.Serializer):
    concentration = serializers.DecimalField(
        max_digits=14, decimal_places=4, required=False, allow_null=True, default=None
    )
    unit = UnitField(required=False, default=Sample.Unit.NG_ML)
    below_lloq = serializers.BooleanField(required=False, default=False)


class SampleCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class AdverseEventCreateSerializer(serializers.Serializer):
    treatment = VisibleRelatedField(queryset=Treatment.objects.all())
    term = serializers.CharField(max_length=200)
    other_specify = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    grade = serializers.IntegerField()
    onset = serializers.DateField()
    resolved = serializers.DateField(required=False, allow_null=True, default=None)
    related = serializers.BooleanField(required=False, default=True)
    action = serializers.ChoiceField(
        choices=AdverseEvent.Action.choices, required=False, default=AdverseEvent.Action.NONE
    )


class AdverseEventResolveSerializer(serializers.Serializer):
    resolved = serializers.DateField()


class DueDateSerializer(serializers.Serializer):
    date = serializers.DateField()
    kind = serializers.ChoiceField(choices=["regular", "post_change"])
    fulfilled_by = serializers.IntegerField(allow_null=True, help_text="id of the sample")


class ScheduleSerializer(serializers.Serializer):
    due = DueDateSerializer(many=True)


class ScheduleQuerySerializer(serializers.Serializer):
    until = serializers.DateField(
        required=False, help_text="last day to list (default: one year from today)"
    )


class AdviceSerializer(serializers.ModelSerializer):
    """An advice with the keys of the `advise` output (SPEC §9, §12) and its workflow."""

    hours_after_dose = NumberField(source="sample.hours_after_dose", default=None)
    method = serializers.CharField(source="sample.method", default=None, read_only=True)
    ctrough_ng_ml = NumberField()
    target_ng_ml = NumberField()
    current_daily_dose_mg = NumberField()
    proposed_daily_dose_mg = NumberField()
    predicted_ctrough_ng_ml = NumberField()
    released_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
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
            "effective_date", "report_sha256", "signed_report_sha256", "report_url",
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


class ExportSerializer(serializers.ModelSerializer):
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Export
        fields = [
            "id", "format", "for_release", "state", "progress", "requested_by", "sha256",
            "size_bytes", "error", "created_at", "started_at", "finished_at", "download_url",
        ]  # fmt: skip

    def get_download_url(self, export: Export) -> str | None:
        if export.state != Export.State.DONE:
            return None
        return f"/api/v1/exports/{export.pk}/download/"


class ExportCreateSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=Export.Format.choices)
    for_release = serializers.BooleanField(required=False, default=False)
