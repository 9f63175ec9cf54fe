"""Rate arithmetic for complication reports: proportions, percentages and Wilson intervals.

Percentages are rounded half-up on exact decimals (53/110 is 48.2 %, 1/8 is 12.5 %, 1/16 is
6.3 %): Python's round() rounds binary floats half-to-even, which disagrees with the
percentages clinicians compute by hand and with the reference study.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

Z_95 = 1.959963984540054  # the 0.975 quantile of the standard normal distribution


def _check(events: int, n: int) -> None:
    for name, value in (("events", events), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be a whole number, not {value!r}.")
        if value < 0:
            raise ValueError(f"{name} must be 0 or more, not {value}.")
    if events > n:
        raise ValueError(f"events ({events}) cannot exceed the units at risk ({n}).")


def _half_up(value: Decimal | float, places: int) -> float:
    exact = value if isinstance(value, Decimal) else Decimal(repr(value))
    return float(exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def wilson_interval(events: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval for events/n, clamped to [0, 1].

    With no units at risk the proportion is unknown, and the interval is the whole range
    (0.0, 1.0): an honest "no information", where (0.0, 0.0) would claim certainty of zero.
    """
    _check(events, n)
    if n == 0:
        return (0.0, 1.0)
    p = events / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half_width = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    low = 0.0 if events == 0 else max(0.0, centre - half_width)
    high = 1.0 if events == n else min(1.0, centre + half_width)
    return (low, high)


def percent(events: int, n: int) -> float:
    """events/n as a percentage with one decimal, rounded half-up; 0.0 when nobody is at risk."""
    _check(events, n)
    if n == 0:
        return 0.0
    return _half_up(Decimal(events * 100) / Decimal(n), 1)


def proportion(events: int, n: int) -> float:
    """events/n rounded half-up to 5 decimals; 0.0 when nobody is at risk."""
    _check(events, n)
    if n == 0:
        return 0.0
    return _half_up(Decimal(events) / Decimal(n), 5)


def rate_summary(events: int, n: int) -> dict[str, Any]:
    """The API's rate block: events, at_risk, rate, percent and the 95 % Wilson interval."""
    low, high = wilson_interval(events, n)
    return {
        "events": events,
        "at_risk": n,
        "rate": proportion(events, n),
        "percent": percent(events, n),
        "ci95": [_half_up(low, 4), _half_up(high, 4)],
    }
