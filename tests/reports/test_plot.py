"""The Ctrough plot: well-formed, byte-stable SVG that says what its lines are."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from advice.engine.case import AdverseEventInput
from reports.plot import ctrough_plot_svg, format_concentration
from reports.report import DosePeriod, PlotPoint

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
SVG = "{http://www.w3.org/2000/svg}"


def point(day: str, ctrough: str | None, *, measured: str | None = None, current=False):
    """A sample drawn at 09:00 on `day`; without a Ctrough it is not evaluable."""
    return PlotPoint(
        drawn_at=datetime.fromisoformat(f"{day}T09:00").replace(tzinfo=AMSTERDAM),
        ctrough_ng_ml=Decimal(ctrough) if ctrough is not None else None,
        measured_ng_ml=Decimal(measured or ctrough) if (measured or ctrough) else None,
        daily_dose_mg=Decimal(600),
        evaluable=ctrough is not None,
        is_current=current,
    )


SORAFENIB_POINTS = (
    point("2023-11-06", "4410"),
    point("2023-12-18", None, measured="1980"),
    point("2024-01-08", "3020"),
    point("2024-02-05", "2870", current=True),
)
SORAFENIB_DOSES = (
    DosePeriod(effective_from=date(2023, 10, 9), daily_dose_mg=Decimal(800)),
    DosePeriod(effective_from=date(2023, 11, 20), daily_dose_mg=Decimal(600)),
)


def sorafenib_plot(points=SORAFENIB_POINTS, doses=SORAFENIB_DOSES, **changes) -> str:
    arguments = {
        "target_ng_ml": Decimal(3750),
        "upper_threshold_ng_ml": None,
        "mean_exposure": Decimal(3750),
        "unit": "ng/mL",
        "time_zone": "Europe/Amsterdam",
    } | changes
    return ctrough_plot_svg(points, doses, **arguments)


def parse(markup: str) -> ET.Element:
    # The markup is our own matplotlib output, not outside input.
    return ET.fromstring(markup)  # noqa: S314


def texts(markup: str) -> list[str]:
    """Every text run drawn in the SVG."""
    return ["".join(element.itertext()).strip() for element in parse(markup).iter(f"{SVG}text")]


def test_plot_is_well_formed_svg_without_prolog():
    markup = sorafenib_plot()

    assert markup.startswith("<svg")
    assert parse(markup).tag == f"{SVG}svg"


def test_target_line_is_tagged_and_spelled_out_in_the_legend():
    drawn = texts(sorafenib_plot())

    assert "target = mean 3750" in drawn
    assert "Target 3750 ng/mL (= mean exposure)" in drawn
    assert "Ctrough (ng/mL)" in drawn
    assert "Daily dose (mg/day)" in drawn
    assert "Date of draw (Europe/Amsterdam)" in drawn


def test_every_sample_is_labelled_with_its_value_and_the_current_one_is_marked():
    drawn = texts(sorafenib_plot())

    assert {"4410", "1980", "3020", "2870"} <= set(drawn)
    assert "This sample" in drawn
    assert "Not evaluable (measured value)" in drawn


def test_same_arguments_give_identical_markup():
    assert sorafenib_plot() == sorafenib_plot()


def test_no_points_still_draws_the_reference_lines():
    markup = sorafenib_plot(points=(), doses=())
    drawn = texts(markup)

    assert "No concentration measured yet" in drawn
    assert "target = mean 3750" in drawn


def test_one_point_without_dose_history():
    markup = sorafenib_plot(points=(point("2024-02-05", "2870", current=True),), doses=())
    drawn = texts(markup)

    assert "2870" in drawn
    assert "This sample" in drawn
    # Without a dose history there is no dose axis to label.
    assert "Daily dose (mg/day)" not in drawn


def test_auc_drug_is_plotted_against_the_mean_exposure_and_says_so():
    markup = sorafenib_plot(
        points=(point("2024-02-05", "21.37", current=True),),
        target_ng_ml=None,
        mean_exposure=Decimal(375),
        unit="ng*h/mL",
    )
    drawn = texts(markup)

    assert "mean 375" in drawn
    assert "Mean exposure 375 ng·h/mL (no Ctrough target)" in drawn
    assert "21.4" in drawn


def test_target_mean_and_upper_threshold_get_their_own_lines():
    # Sunitinib (intermittent): target 50, population mean 51.6, upper threshold 100.
    drawn = texts(
        sorafenib_plot(
            points=(point("2024-02-05", "63.2", current=True),),
            target_ng_ml=Decimal(50),
            upper_threshold_ng_ml=Decimal(100),
            mean_exposure=Decimal("51.6"),
        )
    )

    assert {"target 50", "mean 51.6", "upper 100"} <= set(drawn)
    assert "Upper threshold 100 ng/mL" in drawn


def test_sample_without_a_value_sits_on_the_axis():
    below_lloq = PlotPoint(
        drawn_at=datetime(2024, 2, 5, 9, tzinfo=AMSTERDAM),
        ctrough_ng_ml=None,
        measured_ng_ml=None,
        daily_dose_mg=Decimal(600),
        evaluable=False,
        is_current=True,
    )

    drawn = texts(sorafenib_plot(points=(below_lloq,)))

    assert "Not evaluable, no value (< LLOQ)" in drawn


def test_adverse_events_on_one_day_share_a_marker_worst_grade_first():
    events = (
        AdverseEventInput(
            term="Diarrhea", grade=2, onset=date(2024, 1, 20), resolved=None, related=True
        ),
        AdverseEventInput(
            term="Fatigue", grade=3, onset=date(2024, 1, 20), resolved=None, related=True
        ),
    )

    drawn = texts(sorafenib_plot(adverse_events=events))

    assert "G3 G2" in drawn
    assert "Adverse event onset, CTCAE grade" in drawn


def test_whole_blood_unit_is_kept_on_the_axis():
    drawn = texts(
        sorafenib_plot(
            target_ng_ml=Decimal(10), mean_exposure=Decimal("13.2"), unit="ng/mL (whole blood)"
        )
    )

    assert "Ctrough (ng/mL, whole blood)" in drawn
    assert "Target 10 ng/mL (whole blood)" in drawn


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        ("3826.67", "3827"),
        ("2870.00", "2870"),
        ("3749.5", "3750"),
        ("51.64", "51.6"),
        ("5.125", "5.13"),
    ],
)
def test_plot_numbers_are_rounded_half_up(value, printed):
    assert format_concentration(Decimal(value)) == printed
