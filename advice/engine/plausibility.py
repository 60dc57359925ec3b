"""Which results and times are plausible (docs/clinical-rules.md §1.1).

A measured concentration far outside what the drug reaches, or a last dose long before the draw,
is most often a slip: a result in µg/mL entered as ng/mL is off by a factor 1000, a date typed a
month wrong puts the last dose weeks back. Such input is refused unless the user confirms it; a
confirmed value is stored and its estimate carries warning `implausible_value`.

The plausible range of a drug is derived from its catalogue row:

- the reference concentrations are the row's `target_ng_ml`, `mean_exposure` and
  `upper_threshold_ng_ml`, those that are given and above 0; for a drug whose target is an AUC
  over a day (ng·h/mL) each is divided by 24 h, which gives the mean concentration over the day;
- the highest plausible value is 20 × the largest reference, scaled up to the highest dose TDM
  may advise (`max_daily_dose_mg` / `standard_daily_dose_mg`) and from trough to peak along the
  half-life (2 ^ ((tau − `tmax_h`) / `half_life_h`) at the standard number of administrations:
  the estimate's own decay model run back from the end of the interval to the peak);
- the lowest plausible value is 1 % of the smallest reference;
- both are rounded outwards to two significant digits, so rounding only widens the range.

A drug whose row gives no reference concentration has no range: any result is accepted. A result
below the assay's LLOQ is never implausible.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import cache

from advice.engine.catalogue import DrugFacts

UPPER_FACTOR = Decimal(20)
LOWER_FRACTION = Decimal("0.01")
SIGNIFICANT_DIGITS = 2
HOURS_PER_DAY = Decimal(24)
# A last dose more than a week before the draw: not a trough sample, most likely a wrong date.
MAX_DOSE_GAP = timedelta(days=7)


@dataclass(frozen=True)
class PlausibleRange:
    """The concentrations (ng/mL) a sample of the drug can plausibly measure, bounds included."""

    low_ng_ml: Decimal
    high_ng_ml: Decimal

    def contains(self, value_ng_ml: Decimal) -> bool:
        return self.low_ng_ml <= value_ng_ml <= self.high_ng_ml

    @property
    def text(self) -> str:
        return f"{number_text(self.low_ng_ml)} to {number_text(self.high_ng_ml)} ng/mL"


def number_text(value: Decimal) -> str:
    """A bound as written in the documentation and the messages: 37, 180000, 0.026."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _significant(value: Decimal, rounding: str) -> Decimal:
    quantum = Decimal(1).scaleb(value.adjusted() - (SIGNIFICANT_DIGITS - 1))
    return value.quantize(quantum, rounding=rounding)


def reference_concentrations(drug: DrugFacts) -> tuple[Decimal, ...]:
    """The catalogue's concentrations for the drug (ng/mL), those it gives and above 0."""
    given = (drug.target_ng_ml, drug.mean_exposure, drug.upper_threshold_ng_ml)
    figures = tuple(value for value in given if value is not None and value > 0)
    if drug.metric == "auc":
        return tuple(value / HOURS_PER_DAY for value in figures)
    return figures


def peak_to_trough(drug: DrugFacts) -> Decimal:
    """How much higher than the trough a sample drawn at Tmax is, by the log-linear decay with
    the catalogue half-life over the standard dosing interval (1 when Tmax is past tau)."""
    tau_h = HOURS_PER_DAY / drug.administrations_per_day
    return Decimal(2) ** (max(tau_h - drug.tmax_h, Decimal(0)) / drug.half_life_h)


def dose_headroom(drug: DrugFacts) -> Decimal:
    """The highest dose TDM may advise relative to the standard dose (at least 1)."""
    if drug.standard_daily_dose_mg <= 0:
        return Decimal(1)
    return max(drug.max_daily_dose_mg / drug.standard_daily_dose_mg, Decimal(1))


# Asked for every sample saved and every advice computed; the facts are frozen, so once each.
@cache
def plausible_range(drug: DrugFacts) -> PlausibleRange | None:
    """The drug's plausible range (module docstring), or None when its row gives no
    reference concentration."""
    references = reference_concentrations(drug)
    if not references:
        return None
    high = UPPER_FACTOR * max(references) * dose_headroom(drug) * peak_to_trough(drug)
    low = LOWER_FRACTION * min(references)
    return PlausibleRange(
        low_ng_ml=_significant(low, ROUND_FLOOR), high_ng_ml=_significant(high, ROUND_CEILING)
    )


def implausible_concentration(
    value_ng_ml: Decimal | None, drug: DrugFacts, *, below_lloq: bool
) -> bool:
    """True when a measured result lies outside the drug's plausible range."""
    if below_lloq or value_ng_ml is None:
        return False
    bounds = plausible_range(drug)
    return bounds is not None and not bounds.contains(value_ng_ml)


def implausible_dose_gap(drawn_at: datetime, last_dose_at: datetime) -> bool:
    """True when the last dose is more than MAX_DOSE_GAP before the draw (aware datetimes)."""
    return drawn_at - last_dose_at > MAX_DOSE_GAP
