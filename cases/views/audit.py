"""The audit trail page: every write and login, filtered, read-only."""

from __future__ import annotations

import datetime

from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import render
from django.utils import timezone

from cases.forms import AuditFilterForm
from cases.models import AuditEvent
from cases.pages import sorted_page

PER_PAGE = 50

# The columns the trail sorts by: the `sort` parameter's keys (a leading "-" reverses them).
AUDIT_SORTS = {
    "at": ("at",),
    "actor": ("actor_username", "at"),
    "action": ("action", "at"),
    "model": ("model", "at"),
}


def _start_of(day: datetime.date) -> datetime.datetime:
    """Midnight at the start of `day` on the site's clock."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def changes(event: AuditEvent) -> list[tuple[str, object, object]]:
    """(field, before, after) for each field the event changed (all fields of a creation)."""
    before, after = event.before or {}, event.after or {}
    return [
        (key, before.get(key), after.get(key))
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key) and key not in ("updated_at", "created_at")
    ]


@login_required
@permission_required("cases.view_auditevent", raise_exception=True)
def audit_trail(request):
    events = AuditEvent.objects.visible_to(request.user).select_related("site")
    models = sorted(
        label
        for label in AuditEvent.objects.visible_to(request.user)
        .order_by()
        .values_list("model", flat=True)
        .distinct()
        if label
    )
    form = AuditFilterForm(request.GET or None, models=models)
    filters = {}
    if form.is_bound:
        # A filter typed wrongly is reported next to its field; the valid ones still apply.
        form.is_valid()
        filters = form.cleaned_data
    if filters.get("action"):
        events = events.filter(action=filters["action"])
    if filters.get("model"):
        events = events.filter(model=filters["model"])
    if filters.get("user"):
        events = events.filter(actor_username__icontains=filters["user"].strip())
    if filters.get("date_from"):
        events = events.filter(at__gte=_start_of(filters["date_from"]))
    if filters.get("date_to"):
        events = events.filter(at__lt=_start_of(filters["date_to"] + datetime.timedelta(days=1)))
    listing = sorted_page(request, events, AUDIT_SORTS, "-at", PER_PAGE)
    return render(
        request,
        "cases/audit_trail.html",
        {
            **listing,
            "form": form,
            "rows": [{"event": event, "changes": changes(event)} for event in listing["page"]],
        },
    )
