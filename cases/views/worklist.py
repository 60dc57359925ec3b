"""The nurses' worklist: samples due, overdue and awaiting a result, a page at a time."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone

from cases.forms import WorklistFilterForm
from cases.selectors import (
    DEFAULT_SORT,
    DEFAULT_WINDOW,
    DUE_SOON_DAYS,
    build_worklist,
    nurses_to_filter_by,
)

PAGE_SIZE = 50
# Each section pages on its own; the other sections keep their page in the links.
PAGE_PARAMS = {
    "overdue": "overdue_page",
    "before_registration": "before_page",
    "due_soon": "due_page",
    "awaiting_result": "awaiting_page",
}


class WorklistForm(WorklistFilterForm):
    """The worklist's filters (site, drug, nurse, due window) and its order."""

    nurse = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="every nurse", label="Nurse"
    )
    window = forms.ChoiceField(
        label="Due",
        required=False,
        choices=[
            ("overdue", "overdue only"),
            ("7", f"overdue and the next {DUE_SOON_DAYS} days"),
            ("30", "overdue and the next 30 days"),
        ],
    )
    sort = forms.ChoiceField(
        label="Sort by",
        required=False,
        choices=[("due", "due date"), ("patient", "patient"), ("drug", "drug")],
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        self.fields["nurse"].queryset = nurses_to_filter_by(user)


@login_required
def worklist(request):
    form = WorklistForm(request.GET or None, user=request.user)
    filters = form.cleaned_data if form.is_valid() else {}
    work = build_worklist(
        request.user,
        site=filters.get("site"),
        drug_name=filters.get("drug") or "",
        nurse=filters.get("nurse"),
        window=filters.get("window") or DEFAULT_WINDOW,
        sort=filters.get("sort") or DEFAULT_SORT,
    )
    pages = {}
    for name, param in PAGE_PARAMS.items():
        others = request.GET.copy()
        others.pop(param, None)
        pages[name] = {
            "page": Paginator(getattr(work, name), PAGE_SIZE).get_page(request.GET.get(param)),
            "param": param,
            "query": others.urlencode(),
        }
    return render(
        request,
        "cases/worklist.html",
        {
            "form": form,
            "work": work,
            "pages": pages,
            "today": timezone.localdate(),
            "due_soon_days": work.window_days,
        },
    )
