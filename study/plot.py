"""The study dashboard's plot: every evaluable Ctrough of each drug against that drug's target.

Targets range from 2.61 ng/mL (dasatinib) to 42000 ng/mL (vemurafenib), so each value is drawn
as a share of its own drug's target on a log scale: the target is the line at 100 % for every
drug, and "how far below target" reads the same across drugs (half the target is as far below
the line as twice the target is above it). Drawn like the report's plot (`reports.plot`): the
matplotlib object API, SVG with text kept as text, byte-stable output, and every distinction
made by shape and line style so a greyscale print reads the same.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

import matplotlib
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, NullLocator

from reports.plot import FIGURE_SIZE_IN, GRID_GREY, INK, LINE_GREY, PLOT_STYLE, format_concentration
from study.outcomes import DrugGroup, percentage, quartiles

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# The report's style; its own salt, so clip-path ids differ from the report plot's when both are
# on one page.
_STUDY_STYLE = PLOT_STYLE | {"svg.hashsalt": "etdm-study-ctrough-plot"}

_FIGURE_HEIGHT_IN = 3.6
# Beyond four drugs the figure widens so each drug keeps room for its three-line label.
_WIDTH_PER_DRUG_IN = 1.25
_BOX_GREY = "#d9d9d9"
_BELOW_TARGET_GREY = "#f3f3f3"
_BOX_HALF_WIDTH = 0.22
_JITTER_HALF_WIDTH = 0.17
# The golden ratio's fractional part spreads successive points evenly across the strip
# without randomness, so the same values always land in the same places.
_GOLDEN_FRACTION = 0.6180339887498949
# Nice tick values (as a share of the target) to choose from, and the range always shown.
_TICK_SHARES = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100)
_ALWAYS_SHOWN = (0.5, 2.0)
_LOG_MARGIN = 1.35
_MIN_SLOTS = 3


def ctrough_vs_target_svg(groups: Sequence[DrugGroup]) -> str:
    """SVG markup (no XML prolog) with one strip per drug, in the order given.

    Each evaluable Ctrough is a hollow circle at Ctrough ÷ target (log scale, labelled in % of
    target); a grey box spans its drug's quartiles (type 7, as the study summary) with a thick
    line at the median. The dashed line at 100 % is the target, the shaded band below it the
    range below target. Above each strip: how many of the drug's values are below its target.
    Under each drug name: its target and the number of values.
    """
    with matplotlib.rc_context(_STUDY_STYLE):
        width = max(FIGURE_SIZE_IN[0], _WIDTH_PER_DRUG_IN * len(groups) + 1.2)
        figure = Figure(figsize=(width, _FIGURE_HEIGHT_IN), layout="constrained")
        axes = figure.add_subplot()
        shares = [share for group in groups for share in _shares_of_target(group)]
        if shares:
            _draw_scale(axes, shares)
            for position, group in enumerate(groups):
                _draw_group(axes, position, group)
            _draw_legend(figure)
        else:
            _draw_empty(axes, groups)
        _draw_drug_labels(axes, groups)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    markup = buffer.getvalue()
    # The markup is embedded in HTML, where an XML declaration or DOCTYPE is not allowed.
    return markup[markup.index("<svg") :]


def _shares_of_target(group: DrugGroup) -> list[float]:
    if group.target_ng_ml is None:
        return []
    return [float(value / group.target_ng_ml) for value in group.ctrough_ng_ml]


def _percent_label(share: float) -> str:
    return "100% = target" if share == 1 else f"{share * 100:g}%"


def _draw_scale(axes: Axes, shares: Sequence[float]) -> None:
    low = min(*shares, _ALWAYS_SHOWN[0]) / _LOG_MARGIN
    high = max(*shares, _ALWAYS_SHOWN[1]) * _LOG_MARGIN
    axes.set_yscale("log")
    axes.set_ylim(low, high)
    ticks = [share for share in _TICK_SHARES if low <= share <= high]
    axes.yaxis.set_major_locator(FixedLocator(ticks))
    axes.yaxis.set_major_formatter(lambda share, _position: _percent_label(share))
    axes.yaxis.set_minor_locator(NullLocator())
    axes.set_ylabel("Ctrough as % of the drug's target\n(log scale)")
    axes.grid(axis="y", color=GRID_GREY, linewidth=0.5)
    axes.set_axisbelow(True)
    axes.axhspan(low, 1, color=_BELOW_TARGET_GREY, zorder=0, linewidth=0)
    axes.axhline(1, color=LINE_GREY, linestyle="--", linewidth=1.0, zorder=2)
    axes.annotate(
        "below target",
        (1, low),
        xycoords=("axes fraction", "data"),
        xytext=(-3, 3),
        textcoords="offset points",
        ha="right",
        va="bottom",
        fontsize=7,
        fontstyle="italic",
        color=LINE_GREY,
    )


def _draw_group(axes: Axes, position: int, group: DrugGroup) -> None:
    # Mixed coordinates: the drug's x position in data, heights as a fraction of the axes.
    in_strip = axes.get_xaxis_transform()
    if group.target_ng_ml is None:
        axes.text(
            position, 0.5, "no Ctrough\ntarget", transform=in_strip, ha="center",
            va="center", fontsize=7, color=LINE_GREY,
        )  # fmt: skip
        return
    if not group.ctrough_ng_ml:
        axes.text(
            position, 0.5, "no evaluable\nsample yet", transform=in_strip, ha="center",
            va="center", fontsize=7, color=LINE_GREY,
        )  # fmt: skip
        return
    shares = [value / group.target_ng_ml for value in group.ctrough_ng_ml]
    summary = quartiles(shares)
    if summary is not None:
        axes.bar(
            position,
            float(summary.q3 - summary.q1),
            bottom=float(summary.q1),
            width=2 * _BOX_HALF_WIDTH,
            color=_BOX_GREY,
            edgecolor=LINE_GREY,
            linewidth=0.6,
            zorder=3,
        )
        axes.hlines(
            float(summary.median),
            position - _BOX_HALF_WIDTH,
            position + _BOX_HALF_WIDTH,
            colors=INK,
            linewidth=2.0,
            zorder=4,
        )
    offsets = [
        ((index * _GOLDEN_FRACTION) % 1 - 0.5) * 2 * _JITTER_HALF_WIDTH if len(shares) > 1 else 0
        for index in range(len(shares))
    ]
    axes.plot(
        [position + offset for offset in offsets],
        [float(share) for share in shares],
        linestyle="none",
        marker="o",
        markersize=4,
        markerfacecolor="white",
        markeredgecolor=INK,
        markeredgewidth=0.8,
        zorder=5,
    )
    below = sum(1 for share in shares if share < 1)
    axes.text(
        position,
        1.0,
        f"{below} of {len(shares)} below\ntarget ({percentage(below, len(shares)):g}%)",
        transform=in_strip,
        ha="center",
        va="bottom",
        fontsize=7,
        color=INK,
    )


def _draw_drug_labels(axes: Axes, groups: Sequence[DrugGroup]) -> None:
    # Room for at least three strips, so one or two drugs do not get boxes a third of the
    # figure wide.
    padding = max(0, _MIN_SLOTS - len(groups)) / 2
    axes.set_xlim(-0.6 - padding, len(groups) - 0.4 + padding)
    axes.set_xticks(range(len(groups)), [_drug_label(group) for group in groups])
    axes.tick_params(axis="x", length=0, labelsize=7.5)
    axes.spines["top"].set_visible(False)
    axes.spines["right"].set_visible(False)


def _drug_label(group: DrugGroup) -> str:
    if group.target_ng_ml is None:
        return f"{group.label}\n(monitored by AUC)"
    target = format_concentration(group.target_ng_ml)
    return f"{group.label}\ntarget {target} ng/mL\n{len(group.ctrough_ng_ml)} evaluable"


def _draw_legend(figure: Figure) -> None:
    figure.legend(
        handles=[
            Line2D(
                [], [], linestyle="none", marker="o", markersize=4, markerfacecolor="white",
                markeredgecolor=INK, markeredgewidth=0.8, label="one evaluable sample",
            ),
            Patch(facecolor=_BOX_GREY, edgecolor=LINE_GREY, linewidth=0.6,
                  label="middle half of the values (IQR)"),
            Line2D([], [], color=INK, linewidth=2.0, label="median"),
            Line2D([], [], color=LINE_GREY, linestyle="--", linewidth=1.0,
                   label="the drug's own target"),
        ],
        loc="outside lower center",
        ncols=4,
        frameon=False,
        handlelength=2.2,
        columnspacing=1.4,
    )  # fmt: skip


def _draw_empty(axes: Axes, groups: Sequence[DrugGroup]) -> None:
    """A message instead of a scale; the drugs, if any, keep their labels below it."""
    axes.yaxis.set_major_locator(NullLocator())
    axes.spines["left"].set_visible(False)
    message = "No evaluable Ctrough values yet" if groups else "No patients yet"
    axes.text(
        0.5, 0.55, message, transform=axes.transAxes, ha="center", va="center", color=LINE_GREY
    )
