"""The PDF path sets up once per worker process what every rendering shares: WeasyPrint's
fonts and the plot of the same values."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import weasyprint

from reports import plot, render
from tests.reports.test_report import sorafenib_report


def test_two_renderings_share_one_font_configuration(monkeypatch):
    used = []
    write_pdf = weasyprint.HTML.write_pdf

    def spy(self, *args, **kwargs):
        used.append(kwargs["font_config"])
        return write_pdf(self, *args, **kwargs)

    monkeypatch.setattr(weasyprint.HTML, "write_pdf", spy)
    first = render.render_pdf(sorafenib_report())
    other = render.render_pdf(sorafenib_report(site_name="Ωmega Ĥospital", tumour="Ünïcødé"))
    again = render.render_pdf(sorafenib_report())
    assert len(used) == 3
    assert used[0] is used[1] is used[2] is render.font_configuration()
    # The shared fonts carry nothing of one rendering into the next.
    assert other != first == again


def test_the_plot_of_the_same_values_is_drawn_once(monkeypatch):
    drawn = []
    draw = plot._plot_markup

    def spy(*args):
        drawn.append(args)
        return draw(*args)

    monkeypatch.setattr(plot, "_plot_markup", spy)
    monkeypatch.setattr(plot, "_kept", type(plot._kept)())
    clinical = render.render_pdf(sorafenib_report())
    render.render_pdf(sorafenib_report(patient_name=None, record_number=None))
    assert len(drawn) == 1
    assert render.render_pdf(sorafenib_report()) == clinical
    assert len(drawn) == 1


def test_values_equal_but_printed_differently_are_drawn_apart(monkeypatch):
    monkeypatch.setattr(plot, "_kept", type(plot._kept)())
    report = sorafenib_report()
    point = report.points[-1]
    tenths = dataclasses.replace(
        point, ctrough_ng_ml=Decimal(point.ctrough_ng_ml).quantize(Decimal("0.1"))
    )
    arguments = {
        "target_ng_ml": report.target_ng_ml,
        "upper_threshold_ng_ml": report.upper_threshold_ng_ml,
        "mean_exposure": report.mean_exposure,
        "unit": report.unit,
        "time_zone": report.time_zone,
    }
    plain = plot.ctrough_plot_svg([point], report.doses, **arguments)
    precise = plot.ctrough_plot_svg([tenths], report.doses, **arguments)
    assert plain == plot._plot_markup((point,), tuple(report.doses), *arguments.values(), ())
    assert precise == plot._plot_markup((tenths,), tuple(report.doses), *arguments.values(), ())
    assert len(plot._kept) == 2
