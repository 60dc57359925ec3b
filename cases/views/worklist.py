"""The nurses' worklist: samples due, overdue and awaiting a result, a page at a time."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone

from cases.forms import WorklistFilterForm
from cases.selectors import DEFAULT_SORT, DEFAULT_WINDOW, build_worklist

PAGE_SIZE = 50
# Each section pages on its own; the other sections keep their page in the links.
PAGE_PARAMS = {
    "overdue": "overdue_page",
    "before_registration": "before_page",
    "due_soon": "due_page",
    "awaiting_result": "awaiting_page",
}


@login_required
def worklist(request):
    form = WorklistFilterForm(request.GET or None, user=request.user)
    filters = form.filters()
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
            "pages": pages,
            "today": timezone.localdate(),
            "due_soon_days": work.window_days,
        },
    )
