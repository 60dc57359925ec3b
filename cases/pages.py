"""What the pages share: who may act on a record, and answering a form page.

Reading is scoped by `visible_to(user)` (another site's record is a 404); acting needs the role's
permission and work at the record's site, as the services require. A page offers an action only
to those who may take it, and the action's URL refuses everyone else with 403.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from cases import access


def may_act(user, permission: str, site_id: int) -> bool:
    """May `user` do what `permission` allows on a record of this site (as the services check)."""
    return user.has_perm(permission) and (user.is_superuser or access.works_at(user, site_id))


def require_act(user, permission: str, site_id: int) -> None:
    if not may_act(user, permission, site_id):
        raise PermissionDenied("Your role may not do this for this patient.")


def render_form_page(request, template: str, context: dict, *forms):
    """A form page; 400 when a submitted form has errors, so nothing looks saved that is not."""
    status = 400 if any(form.is_bound and form.errors for form in forms) else 200
    return render(request, template, context, status=status)
