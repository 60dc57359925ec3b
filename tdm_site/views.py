"""The home page: what each role has to do today, across the apps."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from advice.models import Advice
from cases import access, roles
from cases.models import Patient, Sample
from cases.selectors import build_worklist
from cases.views.patients import may_register
from notifications.models import Notification

HOME_LIST_LIMIT = 8


@login_required
def home(request):
    user = request.user
    user_roles = access.user_roles(user)
    patients = Patient.objects.visible_to(user)
    advice = Advice.objects.visible_to(user).select_related(
        "treatment__patient", "treatment__drug", "sample"
    )
    context = {
        "roles": sorted(user_roles),
        "sites": [
            m.site for m in user.site_memberships.select_related("site").order_by("site__code")
        ],
        "patient_count": patients.count(),
        "recent_samples": Sample.objects.visible_to(user)
        .select_related("treatment__patient", "treatment__drug")
        .order_by("-drawn_at")[:10],
        "unread": Notification.objects.filter(recipient=user, read_at__isnull=True)[
            :HOME_LIST_LIMIT
        ],
        "may_register": may_register(user),
    }
    if roles.NURSE in user_roles:
        context["work"] = build_worklist(user)
    if roles.PHARMACIST in user_roles:
        drafts = advice.filter(state=Advice.State.DRAFT).order_by("created_at")
        context["drafts"] = drafts[:HOME_LIST_LIMIT]
        context["draft_count"] = drafts.count()
    if roles.PHYSICIAN in user_roles:
        to_sign = advice.filter(state=Advice.State.RELEASED).order_by("released_at")
        context["to_sign"] = to_sign[:HOME_LIST_LIMIT]
        context["to_sign_count"] = to_sign.count()
    context["study_data"] = user.is_superuser or bool(user_roles & roles.ALL_SITES_ROLES)
    return render(request, "home.html", context)
