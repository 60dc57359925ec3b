"""Data entry pages: register patients and treatments, log samples and adverse events, change
or stop a treatment. Each parses a form and calls one service; the service's errors appear next
to the fields, and a request either saves everything or nothing.
"""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from advice.engine import ctcae
from cases import access, services, views
from cases.errors import StateConflict
from cases.forms import (
    AdverseEventForm,
    AdverseEventResolveForm,
    DoseChangeForm,
    PatientForm,
    SampleCancelForm,
    SampleForm,
    SampleResultForm,
    StopTreatmentForm,
    TreatmentForm,
    apply_errors,
    level_text,
)
from cases.models import Patient, Sample, Treatment
from cases.pages import render_form_page, require_act

TERM_SUGGESTIONS = 30


def _treatment(request, pk: int, permission: str) -> Treatment:
    treatment = get_object_or_404(
        Treatment.objects.visible_to(request.user)
        .select_related("patient__site", "drug")
        .prefetch_related("regimens"),
        pk=pk,
    )
    require_act(request.user, permission, treatment.patient.site_id)
    return treatment


def _treatment_context(request, treatment: Treatment) -> dict[str, object]:
    return {
        "treatment": treatment,
        "patient": treatment.patient,
        "identity": access.sees_identity(request.user, treatment.patient),
    }


# Patients and treatments ------------------------------------------------------------------------


@login_required
def patient_create(request):
    if not request.user.has_perm("cases.add_patient"):
        raise PermissionDenied("Your role may not register patients.")
    form = PatientForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            patient = services.patient_create(actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"Patient {patient.study_number} registered.")
            return redirect("patient-detail", pk=patient.pk)
    return render_form_page(request, "cases/patient_form.html", {"form": form}, form)


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
    treatment = _treatment(request, pk, "cases.add_doseregimen")
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
    context = {**_treatment_context(request, treatment), "form": form, "current": current}
    return render_form_page(request, "cases/dose_change_form.html", context, form)


@login_required
def treatment_stop(request, pk: int):
    treatment = _treatment(request, pk, "cases.change_treatment")
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
    context = {**_treatment_context(request, treatment), "form": form}
    return render_form_page(request, "cases/treatment_stop_form.html", context, form)


# Samples ----------------------------------------------------------------------------------------


@login_required
def sample_create(request, pk: int):
    treatment = _treatment(request, pk, "cases.add_sample")
    form = SampleForm(request.POST or None, treatment=treatment)
    if request.method == "POST" and form.is_valid():
        try:
            sample = services.sample_record(
                actor=request.user, treatment=treatment, **form.service_kwargs()
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, _logged_message(sample))
            return redirect("treatment-detail", pk=treatment.pk)
    context = {**_treatment_context(request, treatment), "form": form}
    return render_form_page(request, "cases/sample_form.html", context, form)


def _logged_message(sample: Sample) -> str:
    if sample.status == Sample.Status.DRAWN:
        return "Sample logged as drawn; enter its result when the lab reports it."
    return "Sample logged with its result; the advice is being computed."


@login_required
@require_POST
def sample_preview(request, pk: int):
    """What the sample form would store, computed by the same service without saving
    (htmx posts the form here on every change)."""
    treatment = _treatment(request, pk, "cases.add_sample")
    form = SampleForm(request.POST, treatment=treatment)
    sample = None
    if form.is_valid():
        try:
            sample = services.sample_build(
                actor=request.user, treatment=treatment, **form.service_kwargs()
            )
        except ValidationError as error:
            apply_errors(form, error)
    missing, problems = [], []
    for name, errors in form.errors.as_data().items():
        label = form[name].label if name in form.fields else "Sample"
        for error in errors:
            if error.code == "required":
                missing.append(label)
            else:
                problems.extend((label, text) for text in error.messages)
    return render(
        request,
        "cases/_sample_preview.html",
        {"sample": sample, "drug": treatment.drug, "missing": missing, "problems": problems},
    )


@login_required
@require_POST
def sample_result(request, pk: int):
    sample = views.visible_sample(request, pk)
    require_act(request.user, "cases.change_sample", sample.treatment.patient.site_id)
    form = SampleResultForm(request.POST)
    if form.is_valid():
        try:
            services.sample_result(actor=request.user, sample=sample, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        except StateConflict as conflict:
            messages.error(request, str(conflict))
            return redirect("sample-detail", pk=sample.pk)
        else:
            messages.success(request, "Result entered; the advice is being computed.")
            return redirect("treatment-detail", pk=sample.treatment_id)
    return views.sample_page(request, sample, result_form=form)


@login_required
@require_POST
def sample_cancel(request, pk: int):
    sample = views.visible_sample(request, pk)
    require_act(request.user, "cases.change_sample", sample.treatment.patient.site_id)
    form = SampleCancelForm(request.POST)
    if form.is_valid():
        try:
            services.sample_cancel(
                actor=request.user, sample=sample, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            apply_errors(form, error)
        except StateConflict as conflict:
            messages.error(request, str(conflict))
            return redirect("sample-detail", pk=sample.pk)
        else:
            messages.success(request, "Sample cancelled; its unsigned advice is withdrawn.")
            return redirect("treatment-detail", pk=sample.treatment_id)
    return views.sample_page(request, sample, cancel_form=form)


# Adverse events ---------------------------------------------------------------------------------


@login_required
def adverse_event_create(request, pk: int):
    treatment = _treatment(request, pk, "cases.add_adverseevent")
    form = AdverseEventForm(
        request.POST or None, initial={"onset": timezone.localdate(), "related": "yes"}
    )
    if request.method == "POST" and form.is_valid():
        try:
            event = services.adverse_event_record(
                actor=request.user, treatment=treatment, **form.cleaned_data
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(
                request, f"{event.term} grade {event.grade} logged; the advice is being computed."
            )
            return redirect("treatment-detail", pk=treatment.pk)
    context = {**_treatment_context(request, treatment), "form": form}
    return render_form_page(request, "cases/adverse_event_form.html", context, form)


@login_required
@require_POST
def adverse_event_resolve(request, pk: int):
    event = views.visible_adverse_event(request, pk)
    require_act(request.user, "cases.change_adverseevent", event.treatment.patient.site_id)
    form = AdverseEventResolveForm(request.POST)
    if form.is_valid():
        try:
            services.adverse_event_resolve(
                actor=request.user, event=event, resolved=form.cleaned_data["resolved"]
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"{event.term} marked resolved.")
            return redirect("treatment-detail", pk=event.treatment_id)
    return views.adverse_event_page(request, event, resolve_form=form)


@login_required
@require_GET
def ctcae_terms(request):
    """Up to 30 CTCAE terms containing the typed text, those starting with it first."""
    query = request.GET.get("term", "").strip().casefold()
    terms = []
    if query:
        matches = [t for t in ctcae.load_terms() if query in t.term.casefold()]
        matches.sort(key=lambda t: (not t.term.casefold().startswith(query), t.term))
        terms = matches[:TERM_SUGGESTIONS]
    return render(request, "cases/_ctcae_options.html", {"terms": terms})


@login_required
@require_GET
def ctcae_grades(request):
    """The grade choices (with their CTCAE descriptions) of the term typed on the AE form."""
    form = AdverseEventForm(
        initial={"term": request.GET.get("term", ""), "grade": request.GET.get("grade")}
    )
    return render(request, "cases/_ae_grade_fields.html", {"form": form})
