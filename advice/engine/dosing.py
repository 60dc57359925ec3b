"""Dose levels and the split of a daily dose into administrations (docs/clinical-rules.md §4).

Doses are exact `Decimal` milligrams. A daily dose moves along the catalogue's
`dose_levels_mg`; a dose between two levels moves to the nearest level in the direction asked.

Splitting: the daily dose is divided into the current number of administrations so that every
part is a sum of available tablet/capsule strengths (any number of each), the parts are as
equal as possible and the larger part comes first (1000 mg/day BID with 200 mg tablets →
600 + 400). The number of administrations changes, with warning `administrations_changed`,
only when the current number cannot be kept:

- a part would exceed `max_single_dose_mg` → the nearest larger number of administrations that
  keeps every part within it (imatinib 800 mg/day once daily, max 600 mg → 400 + 400);
- the dose cannot be shared out into that many parts (sorafenib 200 mg/day BID with 200 mg
  tablets) → the nearest smaller number that can (200 mg once daily).

If no number of administrations (1-4) works because the daily dose itself cannot be made from
the strengths (sorafenib 450 mg/day with 200 mg tablets), the parts are an equal split in 1 mg
steps (or in the dose's own last decimal, 37.5 → 18.8 + 18.7) with warning `strengths_mismatch`:
the pharmacist chooses how to give it. If even 4 administrations leave a part above
`max_single_dose_mg` (only for doses far above any catalogue maximum), the split uses 4 and
carries warning `above_max_single_dose`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from advice.engine.catalogue import DrugFacts

ADMINISTRATIONS_CHANGED = "administrations_changed"
STRENGTHS_MISMATCH = "strengths_mismatch"
ABOVE_MAX_SINGLE_DOSE = "above_max_single_dose"
MAX_ADMINISTRATIONS_PER_DAY = 4


@dataclass(frozen=True)
class DoseSplit:
    """A daily dose given as `administrations_per_day` parts (mg, larger part first)."""

    daily_dose_mg: Decimal
    administrations_per_day: int
    parts_mg: tuple[Decimal, ...]
    warnings: tuple[str, ...]


def level_up(drug: DrugFacts, current_daily_dose_mg: Decimal) -> Decimal | None:
    """The lowest dose level above the current dose and within `max_daily_dose_mg`, or None."""
    for level in drug.dose_levels_mg:
        if current_daily_dose_mg < level <= drug.max_daily_dose_mg:
            return level
    return None


def level_down(drug: DrugFacts, current_daily_dose_mg: Decimal) -> Decimal | None:
    """The highest dose level below the current dose, or None below the lowest level."""
    for level in reversed(drug.dose_levels_mg):
        if level < current_daily_dose_mg:
            return level
    return None


def split_daily_dose(
    daily_dose_mg: Decimal, administrations_per_day: int, drug: DrugFacts
) -> DoseSplit:
    """Split `daily_dose_mg` over administrations using the drug's strengths (module docstring)."""
    if daily_dose_mg <= 0:
        raise ValueError("daily_dose_mg must be positive")
    if not 1 <= administrations_per_day <= MAX_ADMINISTRATIONS_PER_DAY:
        raise ValueError("administrations_per_day must be between 1 and 4")
    scale = _scale(daily_dose_mg, *drug.strengths_mg)
    unit = math.gcd(*(_to_int(strength, scale) for strength in drug.strengths_mg))
    coins = tuple(sorted({_to_int(strength, scale) // unit for strength in drug.strengths_mg}))
    cap = (
        None
        if drug.max_single_dose_mg is None
        else math.floor(drug.max_single_dose_mg * 10**scale) // unit
    )
    total_scaled = _to_int(daily_dose_mg, scale)
    counts = sorted(
        range(1, MAX_ADMINISTRATIONS_PER_DAY + 1),
        key=lambda n: (abs(n - administrations_per_day), n),
    )

    def split(count: int, parts: tuple[Decimal, ...], *codes: str) -> DoseSplit:
        changed = (ADMINISTRATIONS_CHANGED,) if count != administrations_per_day else ()
        if drug.max_single_dose_mg is not None and parts[0] > drug.max_single_dose_mg:
            codes = (*codes, ABOVE_MAX_SINGLE_DOSE)
        return DoseSplit(
            daily_dose_mg=daily_dose_mg,
            administrations_per_day=count,
            parts_mg=parts,
            warnings=(*changed, *codes),
        )

    if total_scaled % unit == 0:
        total = total_scaled // unit
        for count in counts:
            parts = _best_partition(total, count, coins, cap)
            if parts is not None:
                return split(count, tuple(_from_int(part * unit, scale) for part in parts))
        # No number of administrations keeps every part within the maximum single dose:
        # the most administrations allowed, with the warning that parts exceed it.
        parts = _best_partition(total, MAX_ADMINISTRATIONS_PER_DAY, coins, None)
        if parts is not None:
            return split(
                MAX_ADMINISTRATIONS_PER_DAY,
                tuple(_from_int(part * unit, scale) for part in parts),
            )
    count = administrations_per_day
    while (
        drug.max_single_dose_mg is not None
        and count < MAX_ADMINISTRATIONS_PER_DAY
        and daily_dose_mg / count > drug.max_single_dose_mg
    ):
        count += 1
    return split(count, _equal_parts(daily_dose_mg, count), STRENGTHS_MISMATCH)


def _equal_parts(daily_dose_mg: Decimal, count: int) -> tuple[Decimal, ...]:
    """`count` parts as equal as possible in steps of the dose's own last digit (at most 1 mg)."""
    scale = max(0, -_exponent(daily_dose_mg))
    base, extra = divmod(_to_int(daily_dose_mg, scale), count)
    return tuple(_from_int(base + (1 if index < extra else 0), scale) for index in range(count))


def _exponent(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # noqa: S101 - finite Decimals have an int exponent
    return exponent


def _scale(*values: Decimal) -> int:
    """The number of decimal places that makes every value a whole number."""
    return max(0, *(-_exponent(value) for value in values))


def _to_int(value: Decimal, scale: int) -> int:
    return int(value.scaleb(scale))


def _from_int(value: int, scale: int) -> Decimal:
    # normalize() would print 400 as 4E+2; quantize to the integer keeps plain notation.
    result = Decimal(value).scaleb(-scale).normalize()
    return result.quantize(Decimal(1)) if result == result.to_integral_value() else result


@cache
def _representable_below(coins: tuple[int, ...], limit: int) -> frozenset[int]:
    """Amounts below `limit` that are sums of `coins` (any number of each, at least one)."""
    reachable = [False] * limit
    reachable[0] = True
    for amount in range(1, limit):
        reachable[amount] = any(coin <= amount and reachable[amount - coin] for coin in coins)
    return frozenset(amount for amount in range(1, limit) if reachable[amount])


def _is_representable(amount: int, coins: tuple[int, ...]) -> bool:
    # The coins are coprime (divided by their gcd), so every amount from
    # smallest x largest on is a sum of them (Schur's bound on the Frobenius number).
    limit = coins[0] * coins[-1]
    if amount <= 0:
        return False
    return amount >= limit or amount in _representable_below(coins, limit)


def _best_partition(
    total: int, count: int, coins: tuple[int, ...], cap: int | None
) -> tuple[int, ...] | None:
    """`count` representable parts summing to `total`, each within `cap`, most equal first.

    Ranked by the spread (largest - smallest), then the sum of squares (closer to equal),
    then larger leading parts; parts are returned in descending order.
    """
    if count > total:
        return None
    best: tuple[int, ...] | None = None
    best_key: tuple[int, int, tuple[int, ...]] | None = None
    low_share, high_share = total // count, -(-total // count)
    upper = total if cap is None else min(total, cap)
    for first in range(high_share, upper + 1):
        if best_key is not None and first - low_share > best_key[0]:
            break
        if not _is_representable(first, coins):
            continue
        floor = 1 if best_key is None else max(1, first - best_key[0])
        for rest in _descending_parts(total - first, count - 1, first, floor, coins):
            parts = (first, *rest)
            key = (
                parts[0] - parts[-1],
                sum(part * part for part in parts),
                tuple(-part for part in parts),
            )
            if best_key is None or key < best_key:
                best, best_key = parts, key
    return best


def _descending_parts(
    total: int, count: int, ceiling: int, floor: int, coins: tuple[int, ...]
) -> Iterator[tuple[int, ...]]:
    """Non-increasing tuples of `count` representable parts in [floor, ceiling] summing to total."""
    if count == 0:
        if total == 0:
            yield ()
        return
    if not count * floor <= total <= count * ceiling:
        return
    for part in range(min(ceiling, total - (count - 1) * floor), -(-total // count) - 1, -1):
        if _is_representable(part, coins):
            for rest in _descending_parts(total - part, count - 1, part, floor, coins):
                yield (part, *rest)
