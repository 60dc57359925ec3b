"""Sample pages: logging a sample (with a live preview), its result, cancelling it."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from cases import access, pages, services
from cases.errors import StateConflict
from cases.forms import (
    SampleCancelForm,
    SampleForm,
    SampleResultForm,
    apply_errors,
)
from cases.models import Sample
from cases.pages import may_act, render_form_page, require_act
from cases.views.treatments import treatment_form_context, treatment_to_act_on


def sample_page(request, sample: Sample, *, result_form=None, cancel_form=None):
    """The sample with its result and cancel forms (bound ones when a submission failed)."""
    site_id = sample.treatment.patient.site_id
    may_change = may_act(request.user, "cases.change_sample", site_id)
    context = {
        "sample": sample,
        "patient": sample.treatment.patient,
        "identity": access.sees_identity(request.user, sample.treatment.patient),
        "panels": pages.panels("sample", request, sample),
        "result_form": result_form or SampleResultForm(initial={"unit": sample.unit}),
        "cancel_form": cancel_form or SampleCancelForm(),
        "may_enter_result": may_change and sample.status == Sample.Status.DRAWN,
        "may_cancel": may_change and sample.status != Sample.Status.CANCELLED,
    }
    return render_form_page(
        request, "cases/sample_detail.html", context, *(f for f in (result_form, cancel_form) if f)
    )


def visible_sample(request, pk: int) -> Sample:
    return get_object_or_404(
        Sample.objects.visible_to(request.user).select_related(
            "treatment__patient__site", "treatment__drug"
        ),
        pk=pk,
    )


@login_required
def sample_detail(request, pk: int):
    return sample_page(request, visible_sample(request, pk))


@login_required
def sample_create(request, pk: int):
    treatment = treatment_to_act_on(request, pk, "cases.add_sample")
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
    context = {**treatment_form_context(request, treatment), "form": form}
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
    treatment = treatment_to_act_on(request, pk, "cases.add_sample")
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
    sample = visible_sample(request, pk)
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
    return sample_page(request, sample, result_form=form)


@login_required
@require_POST
def sample_cancel(request, pk: int):
    sample = visible_sample(request, pk)
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
    return sample_page(request, sample, cancel_form=form)


def sample_correct(request, pk):
    raise Http404
