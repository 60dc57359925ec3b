"""The report's plot: every Ctrough of a treatment over time, as SVG markup.

Drawn with matplotlib's object API (`Figure`, no pyplot state, so worker threads cannot
interfere with each other) and saved as SVG, which WeasyPrint draws as vectors. The output is
byte-stable: the same arguments always give the same markup, so the PDF around it and its
stored SHA-256 are reproducible.

Everything is told apart by line style and marker shape as well as by grey level, because
reports are printed in black and white.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import matplotlib
from matplotlib import dates as mdates
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator, NullLocator

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes

    from advice.engine.case import AdverseEventInput
    from reports.report import DosePeriod, PlotPoint

# Width matches the report's text block (A4 less 2 × 15 mm margins) so 1 pt in the figure is
# 1 pt on paper and the font sizes below are the printed sizes.
FIGURE_SIZE_IN = (7.08, 2.5)

PLOT_STYLE = {
    # Text stays text: it is set in the report's font and can be found in the PDF.
    "svg.fonttype": "none",
    # Fixed salt for the ids of clip paths and markers, which are otherwise random.
    "svg.hashsalt": "etdm-ctrough-plot",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "legend.fontsize": 7.5,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "axes.edgecolor": "#444444",
}

INK = "#000000"
_DOSE_GREY = "#8c8c8c"
LINE_GREY = "#333333"
GRID_GREY = "#e2e2e2"

# With fewer than two weeks between the first and last event the axis would zoom into hours.
_MIN_SPAN = timedelta(days=14)
# Room right of the last event for the tags of the reference lines.
_RIGHT_PAD = 0.16
_LEFT_PAD = 0.04
# The dose step line keeps to the lower half, under the concentrations and their labels.
_DOSE_AXIS_HEADROOM = 2.2
# Room above the highest value for its label and the adverse-event markers.
_CONCENTRATION_HEADROOM = Decimal("1.3")


@dataclass(frozen=True)
class _ReferenceLine:
    value: Decimal
    tag: str  # short, on the line
    legend: str  # full, with unit
    style: str


# How many plots each worker process keeps. A report's plot is drawn again, from the same
# values, for its other copy, its release and its signature; each plot is some 50 kB.
PLOTS_KEPT = 128


def ctrough_plot_svg(
    points: Sequence[PlotPoint],
    doses: Sequence[DosePeriod],
    *,
    target_ng_ml: Decimal | None,
    upper_threshold_ng_ml: Decimal | None,
    mean_exposure: Decimal | None,
    unit: str,
    time_zone: str,
    adverse_events: Iterable[AdverseEventInput] = (),
) -> str:
    """SVG markup (no XML prolog) of the treatment's Ctrough values over time.

    Evaluable samples are filled circles joined by a line, samples that are not evaluable are
    hollow (a hollow triangle on the axis when there is no number, e.g. below LLOQ), and the
    sample the advice is about is ringed. The target, the upper threshold and the population
    mean exposure are tagged horizontal lines, spelled out with their unit in the legend;
    without a target (AUC-monitored drugs) the mean exposure is the reference and says so.
    The daily dose is a grey step line on the right-hand axis; adverse-event onsets are
    triangles along the top with their CTCAE grades. Dates are shown in `time_zone`.
    """
    arguments = (
        tuple(points),
        tuple(doses),
        target_ng_ml,
        upper_threshold_ng_ml,
        mean_exposure,
        unit,
        time_zone,
        tuple(adverse_events),
    )
    # Keyed by the repr, not by equality: Decimal("2.5") equals Decimal("2.50") but is
    # printed differently, and a cached plot must be the one these very values draw.
    key = repr(arguments)
    with _kept_lock:
        markup = _kept.get(key)
        if markup is not None:
            _kept.move_to_end(key)
            return markup
    markup = _plot_markup(*arguments)
    with _kept_lock:
        _kept[key] = markup
        while len(_kept) > PLOTS_KEPT:
            _kept.popitem(last=False)
    return markup


_kept: OrderedDict[str, str] = OrderedDict()
_kept_lock = threading.Lock()


def _plot_markup(
    points: tuple[PlotPoint, ...],
    doses: tuple[DosePeriod, ...],
    target_ng_ml: Decimal | None,
    upper_threshold_ng_ml: Decimal | None,
    mean_exposure: Decimal | None,
    unit: str,
    time_zone: str,
    events: tuple[AdverseEventInput, ...],
) -> str:
    """The plot itself; `ctrough_plot_svg` draws it once per process for the same values
    (the markup is a pure function of them)."""
    zone = ZoneInfo(time_zone)
    with matplotlib.rc_context(PLOT_STYLE):
        figure = Figure(figsize=FIGURE_SIZE_IN, layout="constrained")
        axes = figure.add_subplot()
        start, end = _time_range(points, doses, events, zone)
        axes.set_xlim(start, end)
        handles = _draw_dose(axes, doses, zone, end)
        handles += _draw_concentrations(axes, points)
        references = _reference_lines(target_ng_ml, upper_threshold_ng_ml, mean_exposure, unit)
        handles += _draw_references(axes, references, points)
        handles += _draw_adverse_events(axes, events, zone)
        _format_axes(axes, zone, time_zone, unit, dated=bool(points or doses or events))
        if not points:
            axes.text(
                0.5,
                0.55,
                "No concentration measured yet",
                transform=axes.transAxes,
                ha="center",
                va="center",
                color=LINE_GREY,
            )
        figure.legend(
            handles=handles,
            loc="outside lower center",
            ncols=min(len(handles), 3) or 1,
            frameon=False,
            handlelength=2.6,
            columnspacing=1.6,
        )
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    markup = buffer.getvalue()
    # The markup may be embedded in HTML, where an XML declaration or DOCTYPE is not allowed.
    return markup[markup.index("<svg") :]


def format_concentration(value: Decimal) -> str:
    """A concentration as printed on the report, without unit: 3826.67 → 3827, 13.24 → 13.2."""
    # Concentrations of kinase inhibitors span 5 to 5000 ng/mL: whole numbers from 100 up,
    # about three significant figures below, rounded half up like the advice text.
    places = Decimal(1) if value >= 100 else Decimal("0.1") if value >= 10 else Decimal("0.01")
    return f"{value.quantize(places, rounding=ROUND_HALF_UP).normalize():f}"


def _plain(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone)


def _time_range(
    points: Sequence[PlotPoint],
    doses: Sequence[DosePeriod],
    events: Sequence[AdverseEventInput],
    zone: ZoneInfo,
) -> tuple[datetime, datetime]:
    moments = [point.drawn_at for point in points]
    moments += [_local_midnight(period.effective_from, zone) for period in doses]
    moments += [_local_midnight(event.onset, zone) for event in events]
    if not moments:
        # Nothing to place in time: any fixed fortnight keeps the axes drawable; its dates
        # are not shown.
        moments = [datetime(2000, 1, 1, tzinfo=zone)]
    first, last = min(moments), max(moments)
    if last - first < _MIN_SPAN:
        first = last - _MIN_SPAN
    span = last - first
    return first - span * _LEFT_PAD, last + span * _RIGHT_PAD


def _draw_dose(
    axes: Axes, doses: Sequence[DosePeriod], zone: ZoneInfo, end: datetime
) -> list[Artist]:
    if not doses:
        return []
    dose_axes = axes.twinx()
    # The concentrations are drawn over the dose line, not under it.
    axes.set_zorder(dose_axes.get_zorder() + 1)
    axes.patch.set_visible(False)
    ordered = sorted(doses, key=lambda period: period.effective_from)
    times = [_local_midnight(period.effective_from, zone) for period in ordered] + [end]
    levels = [float(period.daily_dose_mg) for period in ordered]
    levels.append(levels[-1])
    (line,) = dose_axes.plot(
        times,
        levels,
        drawstyle="steps-post",
        color=_DOSE_GREY,
        linewidth=1.6,
        linestyle="-",
        solid_joinstyle="miter",
        label="Daily dose (right axis)",
    )
    # Each step is tagged with its dose: the right-hand axis alone is too coarse to tell
    # 600 from 800 mg/day at a glance.
    for period in ordered:
        dose_axes.annotate(
            f"{_plain(period.daily_dose_mg)} mg/day",
            (_local_midnight(period.effective_from, zone), float(period.daily_dose_mg)),
            xytext=(3, 2),
            textcoords="offset points",
            ha="left",
            va="bottom",
            fontsize=6.5,
            color=LINE_GREY,
        )
    dose_axes.set_ylim(0, max(max(levels), 1) * _DOSE_AXIS_HEADROOM)
    dose_axes.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    dose_axes.set_ylabel("Daily dose (mg/day)", color=LINE_GREY)
    dose_axes.tick_params(axis="y", colors=LINE_GREY)
    for side in ("top", "left", "bottom"):
        dose_axes.spines[side].set_visible(False)
    return [line]


def _plotted_value(point: PlotPoint) -> Decimal | None:
    if point.evaluable:
        return point.ctrough_ng_ml
    return point.measured_ng_ml


def _draw_concentrations(axes: Axes, points: Sequence[PlotPoint]) -> list[Artist]:
    ordered = sorted(points, key=lambda point: point.drawn_at)
    handles: list[Artist] = []
    evaluable = [p for p in ordered if p.evaluable and p.ctrough_ng_ml is not None]
    if evaluable:
        (line,) = axes.plot(
            [p.drawn_at for p in evaluable],
            [float(p.ctrough_ng_ml) for p in evaluable],
            color=INK,
            linewidth=1.1,
            marker="o",
            markersize=5,
            label="Ctrough (evaluable)",
            zorder=4,
        )
        handles.append(line)
    with_value = [p for p in ordered if not p.evaluable and p.measured_ng_ml is not None]
    if with_value:
        (hollow,) = axes.plot(
            [p.drawn_at for p in with_value],
            [float(p.measured_ng_ml) for p in with_value],
            linestyle="none",
            marker="o",
            markersize=5,
            markerfacecolor="white",
            markeredgecolor=INK,
            markeredgewidth=1.0,
            label="Not evaluable (measured value)",
            zorder=4,
        )
        handles.append(hollow)
    without_value = [p for p in ordered if not p.evaluable and p.measured_ng_ml is None]
    if without_value:
        (floor,) = axes.plot(
            [p.drawn_at for p in without_value],
            [0.0] * len(without_value),
            linestyle="none",
            marker="v",
            markersize=6,
            markerfacecolor="white",
            markeredgecolor=INK,
            markeredgewidth=1.0,
            clip_on=False,
            label="Not evaluable, no value (< LLOQ)",
            zorder=4,
        )
        handles.append(floor)
    for point in ordered:
        value = _plotted_value(point)
        if value is None:
            continue
        axes.annotate(
            format_concentration(value),
            (point.drawn_at, float(value)),
            xytext=(0, 6),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=7,
            fontweight="bold" if point.is_current else "normal",
            # A white ground keeps the number legible where a reference line runs through it.
            bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"},
            zorder=5,
        )
    current = [p for p in ordered if p.is_current]
    if current:
        value = _plotted_value(current[0])
        (ring,) = axes.plot(
            [current[0].drawn_at],
            [float(value) if value is not None else 0.0],
            linestyle="none",
            marker="o",
            markersize=11,
            markerfacecolor="none",
            markeredgecolor=INK,
            markeredgewidth=1.2,
            clip_on=False,
            label="This sample",
            zorder=5,
        )
        handles.append(ring)
    return handles


def _reference_lines(
    target_ng_ml: Decimal | None,
    upper_threshold_ng_ml: Decimal | None,
    mean_exposure: Decimal | None,
    unit: str,
) -> list[_ReferenceLine]:
    shown_unit = unit.replace("*", "·")

    def amount(value: Decimal) -> str:
        return f"{format_concentration(value)} {shown_unit}"

    lines = []
    if target_ng_ml is not None and target_ng_ml == mean_exposure:
        # Sorafenib's target is the population mean: one line, not two on top of each other.
        lines.append(
            _ReferenceLine(
                target_ng_ml,
                f"target = mean {format_concentration(target_ng_ml)}",
                f"Target {amount(target_ng_ml)} (= mean exposure)",
                "--",
            )
        )
    elif target_ng_ml is not None:
        lines.append(
            _ReferenceLine(
                target_ng_ml,
                f"target {format_concentration(target_ng_ml)}",
                f"Target {amount(target_ng_ml)}",
                "--",
            )
        )
        if mean_exposure is not None:
            lines.append(
                _ReferenceLine(
                    mean_exposure,
                    f"mean {format_concentration(mean_exposure)}",
                    f"Mean exposure {amount(mean_exposure)}",
                    ":",
                )
            )
    elif mean_exposure is not None:
        lines.append(
            _ReferenceLine(
                mean_exposure,
                f"mean {format_concentration(mean_exposure)}",
                f"Mean exposure {amount(mean_exposure)} (no Ctrough target)",
                "--",
            )
        )
    if upper_threshold_ng_ml is not None:
        lines.append(
            _ReferenceLine(
                upper_threshold_ng_ml,
                f"upper {format_concentration(upper_threshold_ng_ml)}",
                f"Upper threshold {amount(upper_threshold_ng_ml)}",
                "-.",
            )
        )
    return lines


def _draw_references(
    axes: Axes, lines: Sequence[_ReferenceLine], points: Sequence[PlotPoint]
) -> list[Artist]:
    values = [v for v in (_plotted_value(p) for p in points) if v is not None]
    top = max([*values, *(line.value for line in lines), Decimal(1)]) * _CONCENTRATION_HEADROOM
    axes.set_ylim(0, float(top))
    lowest = min((line.value for line in lines), default=None)
    handles: list[Artist] = []
    for line in lines:
        handles.append(
            axes.axhline(
                float(line.value),
                color=LINE_GREY,
                linestyle=line.style,
                linewidth=1.0,
                label=line.legend,
            )
        )
        # The lowest line's tag hangs below it and the others sit above theirs, so the tags
        # of lines close together do not collide.
        below = line.value == lowest and len(lines) > 1
        axes.annotate(
            line.tag,
            (1, float(line.value)),
            xycoords=("axes fraction", "data"),
            xytext=(-4, -2 if below else 2),
            textcoords="offset points",
            ha="right",
            va="top" if below else "bottom",
            fontsize=7,
            color=INK,
            zorder=6,
        )
    return handles


def _draw_adverse_events(
    axes: Axes, events: Sequence[AdverseEventInput], zone: ZoneInfo
) -> list[Artist]:
    if not events:
        return []
    grades_by_onset: dict[date, list[int]] = {}
    for event in events:
        grades_by_onset.setdefault(event.onset, []).append(event.grade)
    for onset, grades in sorted(grades_by_onset.items()):
        # Mixed data/axes coordinates take plain numbers, not datetimes.
        x = mdates.date2num(_local_midnight(onset, zone))
        axes.plot(
            [x],
            [0.96],
            transform=axes.get_xaxis_transform(),
            linestyle="none",
            marker="v",
            markersize=5,
            markerfacecolor=LINE_GREY,
            markeredgecolor=LINE_GREY,
            zorder=5,
        )
        # Events starting on the same day share one marker; the worst grade comes first.
        axes.annotate(
            " ".join(f"G{grade}" for grade in sorted(grades, reverse=True)),
            (x, 0.96),
            xycoords=axes.get_xaxis_transform(),
            xytext=(4, 0),
            textcoords="offset points",
            ha="left",
            va="center",
            fontsize=7,
            color=INK,
        )
    return [
        Line2D(
            [],
            [],
            linestyle="none",
            marker="v",
            markersize=5,
            markerfacecolor=LINE_GREY,
            markeredgecolor=LINE_GREY,
            label="Adverse event onset, CTCAE grade",
        )
    ]


def _format_axes(axes: Axes, zone: ZoneInfo, time_zone: str, unit: str, *, dated: bool) -> None:
    if dated:
        locator = mdates.AutoDateLocator(tz=zone, minticks=3, maxticks=8)
        axes.xaxis.set_major_locator(locator)
        formatter = mdates.ConciseDateFormatter(locator, tz=zone)
        # Month ticks read "Jan 2024" rather than a bare "2024" in January; day ticks read
        # "29 Jan", with the year once at the end of the axis.
        formatter.zero_formats[1] = "%b %Y"
        formatter.formats[2] = formatter.zero_formats[2] = "%d %b"
        formatter.offset_formats[2] = "%Y"
        axes.xaxis.set_major_formatter(formatter)
    else:
        # The placeholder time range has no meaning: show no dates on it.
        axes.xaxis.set_major_locator(NullLocator())
    axes.set_xlabel(f"Date of draw ({time_zone})")
    axes.set_ylabel(_concentration_axis_label(unit))
    axes.grid(axis="y", color=GRID_GREY, linewidth=0.5)
    axes.set_axisbelow(True)
    axes.spines["top"].set_visible(False)


def _concentration_axis_label(unit: str) -> str:
    # Whole-blood drugs keep their matrix: "ng/mL (whole blood)" → "Ctrough (ng/mL, whole
    # blood)". AUC drugs have an exposure unit, but their samples are concentrations too.
    matrix = unit.removeprefix("ng/mL").strip(" ()") if unit.startswith("ng/mL") else ""
    return f"Ctrough (ng/mL, {matrix})" if matrix else "Ctrough (ng/mL)"
