"""Page actions on one dose regimen: withdrawing one not yet in effect, marking one in effect
entered in error (docs/workflow.md §5). Each asks for the reason on its own page first."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone

from cases import access, services
from cases.errors import StateConflict
from cases.forms import apply_errors
from cases.models import DoseRegimen
from cases.pages import render_form_page, require_act


class RegimenStatusForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=200,
        error_messages={"required": "Give the reason."},
    )


def _regimen_page(request, pk: int, *, permission: str, service, verb: str, title: str):
    regimen = get_object_or_404(
        DoseRegimen.objects.visible_to(request.user).select_related(
            "treatment__patient__site", "treatment__drug"
        ),
        pk=pk,
    )
    treatment = regimen.treatment
    require_act(request.user, permission, treatment.patient.site_id)
    form = RegimenStatusForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            service(actor=request.user, regimen=regimen, reason=form.cleaned_data["reason"])
        except ValidationError as error:
            apply_errors(form, error)
        except StateConflict as conflict:
            messages.error(request, str(conflict))
            return redirect("treatment-detail", pk=treatment.pk)
        else:
            messages.success(
                request, f"{regimen} {verb}: it stays in the dose history, struck through."
            )
            return redirect("treatment-detail", pk=treatment.pk)
    context = {
        "form": form,
        "regimen": regimen,
        "treatment": treatment,
        "patient": treatment.patient,
        "identity": access.sees_identity(request.user, treatment.patient),
        "title": title,
        "in_effect": regimen.effective_from <= timezone.localdate(),
    }
    return render_form_page(request, "cases/regimen_status_form.html", context, form)


@login_required
def regimen_withdraw(request, pk: int):
    return _regimen_page(
        request,
        pk,
        permission="cases.withdraw_doseregimen",
        service=services.dose_regimen_withdraw,
        verb="withdrawn",
        title="Withdraw a dose not yet in effect",
    )


@login_required
def regimen_entered_in_error(request, pk: int):
    return _regimen_page(
        request,
        pk,
        permission="cases.mark_doseregimen_in_error",
        service=services.dose_regimen_mark_in_error,
        verb="marked entered in error",
        title="Mark a dose entered in error",
    )
