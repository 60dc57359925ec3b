"""The page that asks for an unscheduled (extra) sample of a treatment
(docs/sampling-schedule.md §12)."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.utils import timezone

from cases import services
from cases.forms import ExtraSampleForm, apply_errors
from cases.pages import render_form_page
from cases.views.treatments import treatment_form_context, treatment_to_act_on

# "Re-sample in 2 weeks" is what a rejected advice asks for most.
DEFAULT_DAYS_AHEAD = 14


@login_required
def extra_sample_create(request, pk: int):
    treatment = treatment_to_act_on(request, pk, "cases.add_extraduedate")
    form = ExtraSampleForm(
        request.POST or None,
        initial={"date": timezone.localdate() + datetime.timedelta(days=DEFAULT_DAYS_AHEAD)},
    )
    if request.method == "POST" and form.is_valid():
        try:
            extra = services.extra_due_date_create(
                actor=request.user,
                treatment=treatment,
                date=form.cleaned_data["date"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"Extra sample due on {extra.date:%Y-%m-%d}.")
            return redirect("treatment-detail", pk=treatment.pk)
    context = {**treatment_form_context(request, treatment), "form": form}
    return render_form_page(request, "cases/extra_sample_form.html", context, form)
