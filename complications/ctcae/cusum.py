"""Bernoulli CUSUM for monitoring a complication rate (pure Python, no Django).

The classic upper Bernoulli CUSUM (Steiner, Cook, Farewell & Treasure 2000,
without risk adjustment): the cases are taken in chronological order, each
with outcome 1 (a failure: here a major complication in the window) or 0.
The chart tests the in-control rate ``p0`` (the target) against the
out-of-control rate ``p1`` whose odds are ``odds_ratio`` times those of
``p0``::

    p1 = OR * p0 / (1 - p0 + OR * p0)

Each case adds its log-likelihood ratio::

    W_t = ln(p1 / p0)               for a failure
    W_t = ln((1 - p1) / (1 - p0))   for a success

and ``S_t = max(0, S_{t-1} + W_t)`` with ``S_0 = 0``. The chart signals when
``S_t >= h`` (the limit). It is not reset after a signal: a *crossing* is a
case where the chart reaches the limit while the previous value was below it,
so a run above the limit is one crossing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class CusumResult:
    """``series[i]`` is S after the (i+1)-th case; ``crossings`` the 0-based indices
    where the chart reached the limit from below; ``first_crossing`` the first of them."""

    series: list[float]
    crossings: list[int]
    limit: float
    weight_failure: float
    weight_success: float

    @property
    def first_crossing(self) -> int | None:
        return self.crossings[0] if self.crossings else None

    @property
    def last(self) -> float:
        return self.series[-1] if self.series else 0.0

    @property
    def signalling(self) -> bool:
        """Whether the chart is at or above the limit after the last case."""
        return self.last >= self.limit


def alternative_rate(p0: float, odds_ratio: float) -> float:
    """The rate whose odds are ``odds_ratio`` times the odds of ``p0``."""
    return odds_ratio * p0 / (1 - p0 + odds_ratio * p0)


def weights(p0: float, odds_ratio: float) -> tuple[float, float]:
    """(weight of a failure, weight of a success): ln(p1/p0) and ln((1-p1)/(1-p0))."""
    _check(p0, odds_ratio, 1.0)
    p1 = alternative_rate(p0, odds_ratio)
    return math.log(p1 / p0), math.log((1 - p1) / (1 - p0))


def _check(p0: float, odds_ratio: float, limit: float) -> None:
    if not 0 < p0 < 1:
        raise ValueError(f"the target rate must be strictly between 0 and 1, not {p0!r}")
    if not odds_ratio > 1:
        raise ValueError(f"the odds ratio to detect must be greater than 1, not {odds_ratio!r}")
    if not limit > 0:
        raise ValueError(f"the limit must be positive, not {limit!r}")


def bernoulli_cusum(
    outcomes: Iterable[bool | int], *, p0: float, odds_ratio: float = 2.0, limit: float = 4.0
) -> CusumResult:
    """The CUSUM of ``outcomes`` (truthy: failure), in the order given."""
    _check(p0, odds_ratio, limit)
    w_failure, w_success = weights(p0, odds_ratio)
    series: list[float] = []
    crossings: list[int] = []
    value = 0.0
    for index, failed in enumerate(outcomes):
        previous = value
        value = max(0.0, value + (w_failure if failed else w_success))
        series.append(value)
        if value >= limit > previous:
            crossings.append(index)
    return CusumResult(series, crossings, limit, w_failure, w_success)
