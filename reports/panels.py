"""The Ctrough-over-time plot on the treatment page (registered with `cases.pages.add_panel`)."""

from __future__ import annotations

from django.http import HttpRequest

from cases.models import Treatment
from cases.pages import Panel
from reports import data


def treatment_plot(request: HttpRequest, treatment: Treatment) -> Panel:
    return Panel(
        "reports/_treatment_plot_panel.html", {"plot_svg": data.treatment_plot_svg(treatment)}
    )
