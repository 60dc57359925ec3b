"""Page actions on one dose regimen: withdrawing one not yet in effect, marking one in effect
entered in error (docs/workflow.md §5). Each asks for the reason on its own page first."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect

from cases import access, services
from cases.errors import StateConflict
from cases.forms import RegimenStatusForm, apply_errors
from cases.models import DoseRegimen
from cases.pages import render_form_page, require_act


def _regimen_page(
    request, pk: int, *, permission: str, service, verb: str, title: str, effect: str, button: str
):
    """The reason form of one action on a regimen. What the page says follows the action, not
    the date: the service refuses the action that no longer fits (a dose that took effect
    between opening the page and sending it is not withdrawn)."""
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
        "effect": effect,
        "button": button,
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
        effect="The dose will not take effect; the one before it stays in effect.",
        button="Withdraw the dose",
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
        effect=(
            "The dose history is then read as if this dose had never been prescribed: the "
            "samples drawn under it are computed again with the dose before it."
        ),
        button="Mark entered in error",
    )
