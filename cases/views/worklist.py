"""The nurses' worklist: samples due, overdue and awaiting a result."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from cases.forms import WorklistFilterForm
from cases.selectors import DUE_SOON_DAYS, build_worklist


@login_required
def worklist(request):
    form = WorklistFilterForm(request.GET or None, user=request.user)
    filters = form.cleaned_data if form.is_valid() else {}
    work = build_worklist(
        request.user, site=filters.get("site"), drug_name=filters.get("drug") or ""
    )
    return render(
        request,
        "cases/worklist.html",
        {
            "form": form,
            "work": work,
            "today": timezone.localdate(),
            "due_soon_days": DUE_SOON_DAYS,
        },
    )
