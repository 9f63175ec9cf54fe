"""Funnel-plot control limits for a proportion (Spiegelhalter, Stat Med 2005;24:1185-1202).

For a unit with ``n`` cases, the limits around the overall rate ``p0`` are the exact
binomial quantiles of Bin(n, p0) at the two tails of the chosen level, interpolated
between the integer counts so that the funnel is smooth (Spiegelhalter's appendix):
with ``r`` the smallest count whose cumulative probability reaches ``q``,
``alpha = (F(r) - q) / (F(r) - F(r - 1))`` and the limit is ``(r - alpha) / n``.
"""

from __future__ import annotations

from dataclasses import dataclass

# Two-sided levels: 95 % (about 2 SD, "alert") and 99.8 % (about 3 SD, "alarm").
LEVELS: dict[str, float] = {"95": 0.95, "99.8": 0.998}
POSITIONS = ("above_99.8", "above_95", "within", "below_95", "below_99.8")


def binomial_limit(q: float, n: int, p0: float) -> float:
    """The interpolated exact binomial ``q`` quantile of a proportion out of ``n``."""
    if n <= 0:
        raise ValueError("n must be positive")
    if p0 <= 0.0:
        return 0.0
    if p0 >= 1.0:
        return 1.0
    from scipy.stats import binom  # loads on first use: a second at start-up otherwise

    r = float(binom.ppf(q, n, p0))
    upper = float(binom.cdf(r, n, p0))
    lower = float(binom.cdf(r - 1, n, p0)) if r > 0 else 0.0
    alpha = (upper - q) / (upper - lower) if upper > lower else 0.0
    return max(0.0, min(1.0, (r - alpha) / n))


def control_limits(n: int, p0: float) -> dict[str, tuple[float, float]]:
    """The 95 % and 99.8 % limits ``{level: (low, high)}`` for ``n`` cases."""
    return {
        name: (binomial_limit((1 - level) / 2, n, p0), binomial_limit((1 + level) / 2, n, p0))
        for name, level in LEVELS.items()
    }


@dataclass(frozen=True)
class FunnelPoint:
    events: int
    at_risk: int
    rate: float
    limits: dict[str, tuple[float, float]]
    position: str


def funnel_point(events: int, at_risk: int, p0: float) -> FunnelPoint:
    """Where a unit with ``events`` out of ``at_risk`` lies against the overall rate ``p0``."""
    limits = control_limits(at_risk, p0)
    rate = events / at_risk
    if rate > limits["99.8"][1]:
        position = "above_99.8"
    elif rate > limits["95"][1]:
        position = "above_95"
    elif rate < limits["99.8"][0]:
        position = "below_99.8"
    elif rate < limits["95"][0]:
        position = "below_95"
    else:
        position = "within"
    return FunnelPoint(events, at_risk, rate, limits, position)
