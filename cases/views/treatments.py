"""Treatment pages: the treatment with its schedule and doses; starting, changing the dose,
stopping."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import F, Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from cases import access, pages, services
from cases.forms import (
    DoseChangeForm,
    StopTreatmentForm,
    TreatmentForm,
    apply_errors,
    level_text,
)
from cases.models import DoseRegimen, Patient, Treatment
from cases.pages import may_act, render_form_page, require_act
from cases.selectors import schedule_rows


@login_required
def treatment_detail(request, pk: int):
    user = request.user
    treatment = get_object_or_404(
        Treatment.objects.visible_to(user)
        .select_related("patient__site", "drug")
        .prefetch_related(
            Prefetch(
                "regimens",
                queryset=DoseRegimen.objects.annotate(advice_id=F("advice__id")).order_by(
                    "effective_from"
                ),
            )
        ),
        pk=pk,
    )
    today = timezone.localdate()
    site_id = treatment.patient.site_id
    status = treatment.status_on(today)
    samples = list(treatment.samples.order_by("-drawn_at"))
    due = schedule_rows(treatment, samples, today=today)
    stopped = treatment.stop_date is not None
    return render(
        request,
        "cases/treatment_detail.html",
        {
            "treatment": treatment,
            "patient": treatment.patient,
            "identity": access.sees_identity(user, treatment.patient),
            "today": today,
            "status": status,
            "phase": treatment.phase_on(today),
            "regimen": treatment.regimen_on(today),
            "upcoming": [r for r in treatment.live_regimens() if r.effective_from > today],
            "samples": samples,
            "adverse_events": treatment.adverse_events.order_by("-onset"),
            "panels": pages.panels("treatment", request, treatment),
            "schedule": due,
            # A date missed before the treatment was registered here is history, not a task.
            "overdue": next(
                (r for r in due if r["state"] == "overdue" and not r["before_registration"]), None
            ),
            "next_due": next((row for row in due if row["state"] == "due"), None),
            "may_log_sample": may_act(user, "cases.add_sample", site_id) and not stopped,
            "may_log_event": may_act(user, "cases.add_adverseevent", site_id),
            "may_change_dose": may_act(user, "cases.add_doseregimen", site_id) and not stopped,
            "may_stop": may_act(user, "cases.change_treatment", site_id) and not stopped,
            "may_ask_extra_sample": may_act(user, "cases.add_extraduedate", site_id)
            and not stopped,
            "may_withdraw": may_act(user, "cases.withdraw_doseregimen", site_id),
            "may_mark_in_error": may_act(user, "cases.mark_doseregimen_in_error", site_id),
            "may_change_sample": may_act(user, "cases.change_sample", site_id),
            "may_resolve": may_act(user, "cases.change_adverseevent", site_id),
        },
    )


def treatment_to_act_on(request, pk: int, permission: str) -> Treatment:
    treatment = get_object_or_404(
        Treatment.objects.visible_to(request.user)
        .select_related("patient__site", "drug")
        .prefetch_related("regimens"),
        pk=pk,
    )
    require_act(request.user, permission, treatment.patient.site_id)
    return treatment


def treatment_form_context(request, treatment: Treatment) -> dict[str, object]:
    return {
        "treatment": treatment,
        "patient": treatment.patient,
        "identity": access.sees_identity(request.user, treatment.patient),
    }


@login_required
def treatment_create(request, pk: int):
    patient = get_object_or_404(
        Patient.objects.visible_to(request.user).select_related("site"), pk=pk
    )
    require_act(request.user, "cases.add_treatment", patient.site_id)
    form = TreatmentForm(request.POST or None, initial={"start_date": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        dose, off_label_reason, dose_field = form.prescribed_dose()
        try:
            treatment = services.treatment_create(
                actor=request.user,
                patient=patient,
                drug=form.cleaned_data["drug"],
                start_date=form.cleaned_data["start_date"],
                daily_dose_mg=dose,
                administrations_per_day=form.cleaned_data["administrations_per_day"],
                off_label_reason=off_label_reason,
                overlap_reason=form.cleaned_data["overlap_reason"],
            )
        except ValidationError as error:
            apply_errors(form, error, {"daily_dose_mg": dose_field})
        else:
            messages.success(request, f"Treatment with {treatment.drug} registered.")
            return redirect("treatment-detail", pk=treatment.pk)
    context = {
        "form": form,
        "patient": patient,
        "identity": access.sees_identity(request.user, patient),
    }
    return render_form_page(request, "cases/treatment_form.html", context, form)


@login_required
@require_GET
def treatment_dose_fields(request):
    """The dose fields for the drug just chosen on the treatment form (htmx swaps them in)."""
    form = TreatmentForm(initial={"drug": request.GET.get("drug")})
    drug = form.chosen_drug()
    if drug is not None:
        form.initial["administrations_per_day"] = drug.administrations_per_day
        form.initial["daily_dose_mg"] = level_text(drug.standard_daily_dose_mg)
    return render(request, "cases/_dose_fields.html", {"form": form, "drug": drug})


@login_required
def dose_change(request, pk: int):
    treatment = treatment_to_act_on(request, pk, "cases.add_doseregimen")
    current = treatment.regimen_on(timezone.localdate())
    form = DoseChangeForm(
        request.POST or None,
        treatment=treatment,
        initial={
            "effective_from": timezone.localdate() + datetime.timedelta(days=1),
            "administrations_per_day": current.administrations_per_day if current else None,
        },
    )
    if request.method == "POST" and form.is_valid():
        dose, off_label_reason, dose_field = form.prescribed_dose()
        try:
            regimen = services.dose_regimen_create(
                actor=request.user,
                treatment=treatment,
                effective_from=form.cleaned_data["effective_from"],
                daily_dose_mg=dose,
                administrations_per_day=form.cleaned_data["administrations_per_day"],
                reason=form.cleaned_data["reason"],
                off_label_reason=off_label_reason,
            )
        except ValidationError as error:
            apply_errors(form, error, {"daily_dose_mg": dose_field})
        else:
            messages.success(
                request,
                f"New dose {level_text(regimen.daily_dose_mg)} mg/day from "
                f"{regimen.effective_from:%Y-%m-%d}.",
            )
            return redirect("treatment-detail", pk=treatment.pk)
    context = {**treatment_form_context(request, treatment), "form": form, "current": current}
    return render_form_page(request, "cases/dose_change_form.html", context, form)


@login_required
def treatment_stop(request, pk: int):
    treatment = treatment_to_act_on(request, pk, "cases.change_treatment")
    form = StopTreatmentForm(request.POST or None, initial={"stop_date": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            services.treatment_stop(
                actor=request.user,
                treatment=treatment,
                stop_date=form.cleaned_data["stop_date"],
                reason=form.cleaned_data["stop_reason"],
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"Treatment with {treatment.drug} stopped.")
            return redirect("treatment-detail", pk=treatment.pk)
    context = {**treatment_form_context(request, treatment), "form": form}
    return render_form_page(request, "cases/treatment_stop_form.html", context, form)
