"""Adverse-event pages: logging (CTCAE v5.0 terms and grades), resolving."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from advice.engine import ctcae
from cases import access, pages, services
from cases.forms import (
    AdverseEventForm,
    AdverseEventResolveForm,
    apply_errors,
)
from cases.models import AdverseEvent
from cases.pages import may_act, render_form_page, require_act
from cases.views.treatments import treatment_form_context, treatment_to_act_on


def adverse_event_page(request, event: AdverseEvent, *, resolve_form=None):
    may_resolve = may_act(
        request.user, "cases.change_adverseevent", event.treatment.patient.site_id
    )
    context = {
        "event": event,
        "patient": event.treatment.patient,
        "identity": access.sees_identity(request.user, event.treatment.patient),
        "panels": pages.panels("adverse_event", request, event),
        "resolve_form": resolve_form
        or AdverseEventResolveForm(initial={"resolved": timezone.localdate()}),
        "may_resolve": may_resolve and event.resolved is None and not event.entered_in_error,
    }
    return render_form_page(
        request, "cases/adverse_event_detail.html", context, *(f for f in (resolve_form,) if f)
    )


def visible_adverse_event(request, pk: int) -> AdverseEvent:
    return get_object_or_404(
        AdverseEvent.objects.visible_to(request.user).select_related(
            "treatment__patient__site", "treatment__drug"
        ),
        pk=pk,
    )


@login_required
def adverse_event_detail(request, pk: int):
    return adverse_event_page(request, visible_adverse_event(request, pk))


TERM_SUGGESTIONS = 30


@login_required
def adverse_event_create(request, pk: int):
    treatment = treatment_to_act_on(request, pk, "cases.add_adverseevent")
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
    context = {**treatment_form_context(request, treatment), "form": form}
    return render_form_page(request, "cases/adverse_event_form.html", context, form)


@login_required
@require_POST
def adverse_event_resolve(request, pk: int):
    event = visible_adverse_event(request, pk)
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
    return adverse_event_page(request, event, resolve_form=form)


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
