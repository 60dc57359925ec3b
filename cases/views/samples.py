"""Sample pages: logging a sample (with a live preview), its result, correcting it, cancelling
it."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from cases import access, pages, services
from cases.errors import DuplicateSample, StateConflict
from cases.forms import (
    SampleCancelForm,
    SampleCorrectForm,
    SampleForm,
    SampleResultForm,
    apply_errors,
)
from cases.models import AuditEvent, Sample
from cases.pages import may_act, render_form_page, require_act
from cases.services.samples import CORRECTABLE_FIELDS, CORRECTION_DETAIL, needs_confirmation
from cases.views.treatments import treatment_form_context, treatment_to_act_on

CORRECTABLE_STATUSES = (Sample.Status.DRAWN, Sample.Status.RESULTED)
FIELD_LABELS = {
    "drawn_at": "drawn at",
    "last_dose_at": "last dose",
    "concentration": "concentration",
    "unit": "unit",
    "below_lloq": "below LLOQ",
}
TIME_FIELDS = ("drawn_at", "last_dose_at")


def _shown(name: str, value: object) -> str:
    """An audit snapshot value as the sample page shows it (times in local time)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    moment = parse_datetime(value) if name in TIME_FIELDS and isinstance(value, str) else None
    if moment is not None:
        return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"
    return str(value)


def correction_history(sample: Sample) -> list[dict[str, object]]:
    """The sample's corrections from the audit trail, oldest first: when, by whom, why and
    each corrected field before → after."""
    events = AuditEvent.objects.filter(
        model="cases.sample",
        object_id=str(sample.pk),
        action=AuditEvent.Action.UPDATE,
        detail__startswith=CORRECTION_DETAIL,
    ).order_by("at", "id")
    history = []
    for event in events:
        before, after = event.before or {}, event.after or {}
        changes = [
            (FIELD_LABELS[name], _shown(name, before.get(name)), _shown(name, after.get(name)))
            for name in CORRECTABLE_FIELDS
            if _shown(name, before.get(name)) != _shown(name, after.get(name))
        ]
        history.append(
            {
                "at": event.at,
                "by": event.actor_username or "system",
                "reason": event.detail.removeprefix(CORRECTION_DETAIL),
                "changes": changes,
            }
        )
    return history


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
        "may_correct": may_act(request.user, "cases.correct_sample", site_id)
        and sample.status in CORRECTABLE_STATUSES,
        "corrections": correction_history(sample),
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


def _refused(form, error: ValidationError) -> None:
    """Show the service's refusal on the form, with the confirmation box where it applies."""
    apply_errors(form, error)
    if needs_confirmation(error):
        form.offer_confirmation()


def _conflict(request, duplicate: DuplicateSample) -> dict[str, object]:
    """The duplicate refusal and the sample on record it names, for a link to it."""
    other = Sample.objects.visible_to(request.user).filter(pk=duplicate.conflicting_sample)
    return {"message": str(duplicate), "sample": other.first()}


@login_required
def sample_detail(request, pk: int):
    return sample_page(request, visible_sample(request, pk))


@login_required
def sample_create(request, pk: int):
    treatment = treatment_to_act_on(request, pk, "cases.add_sample")
    form = SampleForm(request.POST or None, treatment=treatment)
    conflict = None
    if request.method == "POST" and form.is_valid():
        try:
            sample = services.sample_record(
                actor=request.user, treatment=treatment, **form.service_kwargs()
            )
        except ValidationError as error:
            _refused(form, error)
        except DuplicateSample as duplicate:
            conflict = _conflict(request, duplicate)
        else:
            messages.success(request, _logged_message(sample))
            return redirect("treatment-detail", pk=treatment.pk)
    context = {**treatment_form_context(request, treatment), "form": form, "conflict": conflict}
    if conflict:
        return render(request, "cases/sample_form.html", context, status=409)
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
    conflict = None
    if form.is_valid():
        try:
            sample = services.sample_build(
                actor=request.user, treatment=treatment, **form.service_kwargs()
            )
        except ValidationError as error:
            apply_errors(form, error)
        except DuplicateSample as duplicate:
            conflict = _conflict(request, duplicate)
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
        {
            "sample": sample,
            "drug": treatment.drug,
            "missing": missing,
            "problems": problems,
            "conflict": conflict,
        },
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
            _refused(form, error)
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


@login_required
def sample_correct(request, pk: int):
    """Correct a sample's times or result with a reason: the form holds its current values."""
    sample = visible_sample(request, pk)
    require_act(request.user, "cases.correct_sample", sample.treatment.patient.site_id)
    if sample.status not in CORRECTABLE_STATUSES:
        messages.error(request, f"A {sample.status} sample cannot be corrected.")
        return redirect("sample-detail", pk=sample.pk)
    form = SampleCorrectForm(request.POST or None, sample=sample)
    conflict = None
    stale = request.method == "POST" and form.stale()
    if stale:
        # Its unchanged fields hold the old values: saving them would undo the other change.
        form = SampleCorrectForm(sample=sample)
    elif request.method == "POST" and form.is_valid():
        try:
            corrected = services.sample_correct(
                actor=request.user,
                sample=sample,
                reason=form.cleaned_data["reason"],
                confirm_implausible=form.cleaned_data["confirm_implausible"],
                **form.corrections(),
            )
        except ValidationError as error:
            _refused(form, error)
        except DuplicateSample as duplicate:
            conflict = _conflict(request, duplicate)
        except StateConflict as state:
            messages.error(request, str(state))
            return redirect("sample-detail", pk=sample.pk)
        else:
            messages.success(
                request,
                "Sample corrected; its advice is computed again from the corrected values."
                if corrected.status == Sample.Status.RESULTED
                else "Sample corrected.",
            )
            return redirect("sample-detail", pk=sample.pk)
    context = {
        "sample": sample,
        "patient": sample.treatment.patient,
        "identity": access.sees_identity(request.user, sample.treatment.patient),
        "form": form,
        "conflict": conflict,
        "stale": stale,
    }
    if conflict or stale:
        return render(request, "cases/sample_correct_form.html", context, status=409)
    return render_form_page(request, "cases/sample_correct_form.html", context, form)
