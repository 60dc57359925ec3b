"""What the pages share: who may act on a record, answering a form page, a sorted page of a
list with its filters, and the sections (panels) other apps add to the record pages.

Reading is scoped by `visible_to(user)` (another site's record is a 404); acting needs the role's
permission and work at the record's site, as the services require. A page offers an action only
to those who may take it, and the action's URL refuses everyone else with 403.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.shortcuts import render

from cases import access
from cases.models import Drug, Site


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


def sorted_page(
    request, queryset: QuerySet, sorts: dict[str, tuple[str, ...]], default: str, per_page: int
) -> dict[str, object]:
    """One page of `queryset` in the order the `sort` parameter names, with the total count
    and the links to the other pages and orders.

    `sort` is a key of `sorts`, reversed by a leading "-"; any other value is the default
    order. The primary key ends every order, so a row never appears on two pages.
    """
    sort = request.GET.get("sort", "")
    if sort.removeprefix("-") not in sorts:
        sort = default
    fields = [*sorts[sort.removeprefix("-")], "pk"]
    if sort.startswith("-"):
        fields = [field[1:] if field.startswith("-") else f"-{field}" for field in fields]
    page = Paginator(queryset.order_by(*fields), per_page).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    links = {}
    for key in sorts:
        params["sort"] = f"-{key}" if sort == key else key
        links[key] = params.urlencode()
    params["sort"] = sort
    return {"page": page, "sort": sort, "query": params.urlencode(), "sort_links": links}


def visible_sites(user) -> QuerySet:
    """The sites whose records the user reads, for a list's site filter."""
    site_ids = access.visible_site_ids(user)
    sites = Site.objects.order_by("code")
    return sites if site_ids is None else sites.filter(pk__in=site_ids)


def drug_names() -> list[str]:
    """The catalogue's drug names, for a list's drug filter."""
    return list(Drug.objects.order_by("name").values_list("name", flat=True).distinct())


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
