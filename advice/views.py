"""Advice pages: the review queue, the sign-off inbox, one advice with its PDF and decisions.

The forms (`advice.forms`) only parse; `advice.services` validates and decides. Errors appear
next to the field.
"""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from advice import services as advice_services
from advice import signals
from advice.engine.case_input import json_number
from advice.engine.text import CODE_DESCRIPTIONS
from advice.forms import AcceptForm, RejectForm, ReleaseForm
from advice.models import Advice
from cases import access
from cases.errors import StateConflict
from cases.forms import apply_errors

QUEUE_LIMIT = 200


def visible_advice(request, pk: int) -> Advice:
    return get_object_or_404(
        Advice.objects.visible_to(request.user).select_related(
            "treatment__patient__site", "treatment__drug", "sample", "adverse_event",
            "released_by", "decided_by",
        ),
        pk=pk,
    )  # fmt: skip


@login_required
def advice_queue(request):
    """Draft advice to review (pharmacists) and released advice to sign (physicians)."""
    state = request.GET.get("state", "")
    if state not in Advice.State.values:
        if request.user.has_perm("advice.sign_advice"):
            state = Advice.State.RELEASED
        else:
            state = Advice.State.DRAFT
    visible = Advice.objects.visible_to(request.user)
    items = (
        visible.filter(state=state)
        .select_related("treatment__patient", "treatment__drug", "sample")
        .order_by("created_at")[:QUEUE_LIMIT]
    )
    counts = dict(visible.order_by().values_list("state").annotate(n=Count("pk")))
    return render(
        request,
        "advice/advice_queue.html",
        {
            "rows": [
                {"advice": a, "identity": access.sees_identity(request.user, a.treatment.patient)}
                for a in items
            ],
            "state": state,
            "states": [
                (value, label, counts.get(value, 0)) for value, label in Advice.State.choices
            ],
        },
    )


def _detail(request, advice: Advice, **forms_by_name):
    user = request.user
    can_release = (
        advice.state == Advice.State.DRAFT
        and user.has_perm("advice.release_advice")
        and access.works_at(user, advice.treatment.patient.site_id)
    )
    can_sign = (
        advice.state == Advice.State.RELEASED
        and user.has_perm("advice.sign_advice")
        and access.works_at(user, advice.treatment.patient.site_id)
    )
    context = {
        "advice": advice,
        "patient": advice.treatment.patient,
        "identity": access.sees_identity(user, advice.treatment.patient),
        "can_release": can_release,
        "can_sign": can_sign,
        "descriptions": CODE_DESCRIPTIONS,
        "release_form": forms_by_name.get("release_form")
        or ReleaseForm(
            drug=advice.treatment.drug,
            initial={
                "text": advice.text,
                "proposed_daily_dose_mg": json_number(advice.proposed_daily_dose_mg),
                "proposed_administrations_per_day": advice.proposed_administrations_per_day,
            },
        ),
        "accept_form": forms_by_name.get("accept_form")
        or AcceptForm(
            checks=advice.checks,
            initial={"effective_date": timezone.localdate() + datetime.timedelta(days=1)},
        ),
        "reject_form": forms_by_name.get("reject_form") or RejectForm(),
    }
    status = 400 if any(f.errors for f in forms_by_name.values()) else 200
    return render(request, "advice/advice_detail.html", context, status=status)


@login_required
def advice_detail(request, pk: int):
    advice = visible_advice(request, pk)
    signals.advice_opened.send(sender=Advice, advice=advice, reader=request.user)
    return _detail(request, advice)


def _decide(request, pk: int, form_class, form_name: str, step):
    advice = visible_advice(request, pk)
    kwargs = {
        AcceptForm: {"checks": advice.checks},
        ReleaseForm: {"drug": advice.treatment.drug},
    }.get(form_class, {})
    form = form_class(request.POST, **kwargs)
    if form.is_valid():
        try:
            step(advice, form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        except (PermissionDenied, StateConflict) as error:
            messages.error(request, str(error))
            return redirect("advice-detail", pk=advice.pk)
        else:
            return redirect("advice-detail", pk=advice.pk)
    return _detail(request, advice, **{form_name: form})


@login_required
@require_POST
def advice_release(request, pk: int):
    def step(advice, data):
        advice_services.advice_release(actor=request.user, advice=advice, **data)
        messages.success(request, "Advice released to the physician.")

    return _decide(request, pk, ReleaseForm, "release_form", step)


@login_required
@require_POST
def advice_accept(request, pk: int):
    def step(advice, data):
        advice_services.advice_accept(actor=request.user, advice=advice, **data)
        messages.success(request, "Advice accepted and signed.")

    return _decide(request, pk, AcceptForm, "accept_form", step)


@login_required
@require_POST
def advice_reject(request, pk: int):
    def step(advice, data):
        advice_services.advice_reject(actor=request.user, advice=advice, **data)
        messages.success(request, "Advice rejected and signed.")

    return _decide(request, pk, RejectForm, "reject_form", step)
