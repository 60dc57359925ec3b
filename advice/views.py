"""Advice pages: the review queue, the sign-off inbox, one advice with its PDF and decisions
(release or withdraw for the pharmacist, accept or reject for the physician).

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
from advice.engine.text import CODE_DESCRIPTIONS, decision_effect
from advice.forms import AcceptForm, RejectForm, ReleaseForm, WithdrawForm
from advice.models import Advice
from cases import access
from cases.errors import StateConflict
from cases.forms import apply_errors
from cases.pages import drug_names, sorted_page, visible_sites

ADVICE_PER_PAGE = 50

# The columns the queue sorts by: the `sort` parameter's keys (a leading "-" reverses them).
ADVICE_SORTS = {
    "computed": ("created_at",),
    "patient": ("treatment__patient__study_number", "created_at"),
    "drug": ("treatment__drug__name", "created_at"),
    "ctrough": ("ctrough_ng_ml", "created_at"),
    "action": ("action", "created_at"),
}


def visible_advice(request, pk: int) -> Advice:
    return get_object_or_404(
        Advice.objects.visible_to(request.user).select_related(
            "treatment__patient__site", "treatment__drug", "sample", "adverse_event",
            "released_by", "decided_by", "follows__decided_by",
        ),
        pk=pk,
    )  # fmt: skip


@login_required
def advice_queue(request):
    """Draft advice to review (pharmacists) and released advice to sign (physicians): paged,
    sortable, filtered by kind, site and drug."""
    state = request.GET.get("state", "")
    if state not in Advice.State.values:
        if request.user.has_perm("advice.sign_advice"):
            state = Advice.State.RELEASED
        else:
            state = Advice.State.DRAFT
    kind = request.GET.get("kind", "")
    site = request.GET.get("site", "")
    drug = request.GET.get("drug", "")
    visible = Advice.objects.visible_to(request.user)
    if kind:
        visible = visible.filter(kind=kind)
    if site:
        visible = visible.filter(treatment__patient__site__code=site)
    if drug:
        visible = visible.filter(treatment__drug__name=drug)
    items = visible.filter(state=state).select_related(
        "treatment__patient", "treatment__drug", "sample"
    )
    listing = sorted_page(request, items, ADVICE_SORTS, "computed", ADVICE_PER_PAGE)
    counts = dict(visible.order_by().values_list("state").annotate(n=Count("pk")))
    filters = request.GET.copy()
    filters.pop("page", None)
    filters.pop("state", None)
    return render(
        request,
        "advice/advice_queue.html",
        {
            **listing,
            "rows": [
                {"advice": a, "identity": access.sees_identity(request.user, a.treatment.patient)}
                for a in listing["page"]
            ],
            "state": state,
            "states": [
                (value, label, counts.get(value, 0)) for value, label in Advice.State.choices
            ],
            "filters": filters.urlencode(),
            "kind": kind,
            "kinds": Advice.Kind.choices,
            "site": site,
            "sites": visible_sites(request.user),
            "drug": drug,
            "drugs": drug_names(),
        },
    )


def _may(user, permission: str, advice: Advice, state: str) -> bool:
    return (
        advice.state == state
        and user.has_perm(permission)
        and access.works_at(user, advice.treatment.patient.site_id)
    )


def _sign_off(advice: Advice) -> dict[str, object]:
    """What the physician reads before signing: whether accepting (by default tomorrow)
    changes the prescription, and the dose changes not yet in effect it would withdraw."""
    today = timezone.localdate()
    return {
        "changes_prescription": advice_services.advice_changes_prescription(
            advice,
            treatment=advice.treatment,
            effective_date=today + datetime.timedelta(days=1),
        ),
        "pending_regimens": advice_services.advice_pending_regimens(advice, today=today),
    }


def _signature_effect(advice: Advice) -> str | None:
    """The prescription an acceptance signed here changed, as the signature states it."""
    if advice.state != Advice.State.ACCEPTED or advice.decided_by_id is None:
        return None
    day = f"{advice.effective_date:%Y-%m-%d}" if advice.effective_date else None
    return decision_effect(advice.action, day)


def _detail(request, advice: Advice, **forms_by_name):
    user = request.user
    can_release = _may(user, "advice.release_advice", advice, Advice.State.DRAFT)
    can_withdraw = _may(user, "advice.withdraw_advice", advice, Advice.State.DRAFT)
    can_sign = _may(user, "advice.sign_advice", advice, Advice.State.RELEASED)
    context = {
        "advice": advice,
        "patient": advice.treatment.patient,
        "identity": access.sees_identity(user, advice.treatment.patient),
        "can_release": can_release,
        "can_withdraw": can_withdraw,
        "can_sign": can_sign,
        "sign_off": _sign_off(advice) if can_sign else None,
        "signature_effect": _signature_effect(advice),
        "after_correction": advice.sample_id is not None
        and Advice.objects.filter(sample_id=advice.sample_id, pk__lt=advice.pk).exists(),
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
        "withdraw_form": forms_by_name.get("withdraw_form") or WithdrawForm(),
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
def advice_withdraw(request, pk: int):
    def step(advice, data):
        advice_services.advice_withdraw(actor=request.user, advice=advice, **data)
        messages.success(request, "Advice withdrawn; it will not be released.")

    return _decide(request, pk, WithdrawForm, "withdraw_form", step)


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
