"""Django admin for reference data: drugs (versioned), sites, memberships, the audit trail;
users and sites in `cases.user_admin`.

Clinical records are not edited here: they change only through the services, which validate
and audit every write.
"""

from django import forms
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from advice.engine.catalogue import CatalogueError, parse_drug_row
from cases import services
from cases.errors import StateConflict
from cases.forms import apply_errors
from cases.models import AuditEvent, Drug, DrugVersion, Sample, Site, Treatment
from cases.user_admin import SiteAdmin, TdmUserAdmin


class DrugAdminForm(forms.ModelForm):
    class Meta:
        model = Drug
        fields = [f.name for f in Drug._meta.fields if f.editable and not f.primary_key]

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        model_fields = {field.name for field in Drug._meta.fields}
        candidate = Drug(**{k: v for k, v in cleaned.items() if k in model_fields})
        try:
            parse_drug_row(candidate.as_row())
        except CatalogueError as error:
            column, _, message = str(error).partition(": ")
            field = "name" if column == "drug" else column
            if field in self.fields:
                raise ValidationError({field: message}) from None
            raise ValidationError(str(error)) from None
        return cleaned


class DrugVersionInline(admin.TabularInline):
    model = DrugVersion
    extra = 0
    can_delete = False
    fields = ["version", "valid_from", "changed_by", "change_source", "row"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Drug)
class DrugAdmin(admin.ModelAdmin):
    form = DrugAdminForm
    list_display = [
        "name", "indication", "metric", "target_ng_ml", "standard_daily_dose_mg",
        "max_daily_dose_mg", "verified", "version",
    ]  # fmt: skip
    list_filter = ["metric", "tdm_level", "indication_group", "verified"]
    search_fields = ["name"]
    readonly_fields = ["version"]
    inlines = [DrugVersionInline]

    def save_model(self, request, obj, form, change) -> None:
        services.drug_save(actor=request.user, drug=obj, change_source="admin")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "actor_username", "action", "model", "object_id", "object_repr", "site"]
    list_filter = ["action", "model", "site"]
    search_fields = ["actor_username", "object_repr", "object_id"]
    date_hierarchy = "at"

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


admin.site.unregister(User)
admin.site.register(User, TdmUserAdmin)
admin.site.register(Site, SiteAdmin)


class SampleAdminForm(forms.ModelForm):
    """Adding a sample in the admin goes through the same service as the API and pages."""

    class Meta:
        model = Sample
        fields = [
            "treatment", "drawn_at", "last_dose_at", "concentration", "unit", "below_lloq",
            "lab_accession",
        ]  # fmt: skip

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            self.built = services.sample_build(actor=None, **cleaned)
        except ValidationError as error:
            apply_errors(self, error)
        except StateConflict as conflict:
            self.add_error(None, str(conflict))
        return cleaned


@admin.register(Sample)
class SampleAdmin(admin.ModelAdmin):
    """Samples are added here through `services.sample_record` (computed, audited, advised on);
    once stored they are read-only: a result entered later or a cancellation has its own action
    in the application."""

    form = SampleAdminForm
    list_display = [
        "drawn_at", "treatment", "status", "concentration", "unit", "estimated_ctrough_ng_ml",
        "method", "evaluable",
    ]  # fmt: skip
    list_filter = ["status", "evaluable", "method"]
    search_fields = ["treatment__patient__study_number", "lab_accession"]
    autocomplete_fields = ["treatment"]

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Sample._meta.fields] if obj is not None else []

    def save_model(self, request, obj, form, change) -> None:
        fields = {name: form.cleaned_data[name] for name in SampleAdminForm.Meta.fields}
        stored = services.sample_record(actor=request.user, **fields)
        obj.pk = stored.pk

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Treatment)
class TreatmentAdmin(admin.ModelAdmin):
    """Listed for finding treatments (e.g. when adding a sample); changed only in the app."""

    list_display = ["patient", "drug", "start_date", "stop_date"]
    search_fields = ["patient__study_number", "drug__name"]

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
