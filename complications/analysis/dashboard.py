"""The three analyses as the dashboard shows them: the numbers for the tables (the charts'
text alternative) and the chart data for ``static/js/outcome_analyses.js``."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from complications.analysis.funnel import funnel
from complications.analysis.incidence import cumulative_incidence, cumulative_incidence_estimate
from complications.analysis.risk import risk_adjusted
from complications.ctcae.funnel import control_limits
from complications.ctcae.incidence import LANDMARK_DAYS
from complications.quality import SYSTEM
from registry.roles import is_registry_coordinator


def dashboard_analyses(*, user: Any, unit: str, filters: dict[str, Any]) -> dict[str, Any]:
    """Cumulative incidence of delayed complications (any grade, and major), the funnel of
    delayed major complications and the risk-adjusted O/E, for the dashboard's selection."""
    incidence_unit = unit if unit in ("fracture", "procedure") else "fracture"
    reader = SYSTEM if is_registry_coordinator(user) else user
    incidence = {
        severity: cumulative_incidence(
            user=reader, unit=incidence_unit, window="delayed", severity=severity, **filters
        )
        for severity in ("any", "major")
    }
    others = {name: value for name, value in filters.items() if name != "department"}
    plot = funnel(user=user, unit=unit, window="delayed", severity="major", **others)
    return {
        "incidence": incidence,
        "landmarks": [
            {
                "day": day,
                "any": incidence["any"]["at"][day],
                "major": incidence["major"]["at"][day],
            }
            for day in ("30", "90", "180", "365")
        ],
        "funnel": plot,
        "funnel_limits": _funnel_limits(plot),
        "risk": risk_adjusted(user=user, **others),
    }


def _funnel_limits(plot: dict[str, Any]) -> list[dict[str, Any]]:
    """The control limits drawn as the funnel's curves, from 1 case to past the largest
    department (40 points, denser where the funnel narrows fast)."""
    p0 = plot["overall"]["rate"]
    largest = max((row["at_risk"] for row in plot["departments"]), default=0)
    if not largest or p0 <= 0:
        return []
    top = int(largest * 1.2) + 1
    sizes = sorted({max(1, round(top * (i / 40) ** 2)) for i in range(1, 41)})
    return [
        {"n": n, **{level: list(bounds) for level, bounds in control_limits(n, p0).items()}}
        for n in sizes
    ]


def _percent(proportion: float) -> float:
    """A proportion in percent, one decimal, half-up (as the crude rates)."""
    return float(Decimal(repr(proportion * 100)).quantize(Decimal("0.1"), ROUND_HALF_UP))


def landmark_percents(*, user: Any, unit: str, filters: dict[str, Any]) -> dict[str, Any]:
    """The cumulative incidence of delayed complications at 30/90/180/365 days in percent
    (one decimal, from the unrounded estimate), for the Results paragraph and the exports."""
    estimate = cumulative_incidence_estimate(
        user=SYSTEM if is_registry_coordinator(user) else user,
        unit=unit,
        window="delayed",
        severity="any",
        **filters,
    )
    rows = []
    for day in LANDMARK_DAYS:
        cif, low, high, at_risk = estimate.at(day)
        rows.append(
            {
                "day": day,
                "percent": _percent(cif),
                "ci_percent": [_percent(low), _percent(high)],
                "at_risk": at_risk,
            }
        )
    return {
        "units": estimate.units,
        "events": estimate.events,
        "competing": estimate.competing,
        "censored": estimate.censored,
        "at": rows,
    }
