"""What the pages share: who may act on a record, answering a form page, and the sections
(panels) other apps add to the record pages.

Reading is scoped by `visible_to(user)` (another site's record is a 404); acting needs the role's
permission and work at the record's site, as the services require. A page offers an action only
to those who may take it, and the action's URL refuses everyone else with 403.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest
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


@dataclass(frozen=True)
class Panel:
    """A section another app adds to a record page: a template and what it shows."""

    template: str
    context: dict[str, Any]


PanelBuilder = Callable[[HttpRequest, Model], "Panel | None"]
PAGES = ("treatment", "sample", "adverse_event")
_panel_builders: dict[str, list[tuple[int, PanelBuilder]]] = {page: [] for page in PAGES}


def add_panel(page: str, build: PanelBuilder, *, order: int = 50) -> None:
    """Show `build(request, record)` on every `page` (one of PAGES), lowest `order` first.

    The apps that act on the records (advice, reports) register their sections here in
    `AppConfig.ready`, so the record pages show them without `cases` importing those apps.
    """
    builders = _panel_builders[page]
    if all(existing is not build for _, existing in builders):
        builders.append((order, build))
        builders.sort(key=lambda entry: entry[0])


def panels(page: str, request: HttpRequest, record: Model) -> list[Panel]:
    """The sections the registered apps show on this record's page."""
    built = (build(request, record) for _, build in _panel_builders[page])
    return [panel for panel in built if panel is not None]
