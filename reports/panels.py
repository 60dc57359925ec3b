"""The Ctrough-over-time plot on the treatment page (registered with `cases.pages.add_panel`)."""

from __future__ import annotations

from django.http import HttpRequest

from cases.models import Treatment
from cases.pages import Panel


def treatment_plot(request: HttpRequest, treatment: Treatment) -> Panel:
    # matplotlib is loaded by the first page that shows a plot, not by every process at start.
    from reports import data

    return Panel(
        "reports/_treatment_plot_panel.html", {"plot_svg": data.treatment_plot_svg(treatment)}
    )
