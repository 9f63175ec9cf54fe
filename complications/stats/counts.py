"""Conditional counts of units per window, and the contract's shapes built from them."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, Sum

from complications.counting import AT_RISK, is_major
from complications.ctcae import GRADES, MAJOR_GRADE
from complications.ctcae.rates import rate_summary
from complications.models import Window
from complications.stats.rollup import Split
from complications.stats.selection import WINDOWS, Units


def window_counts(units: Units, *, with_grades: bool = False) -> dict[str, Count]:
    """Conditional counts of units over their summary rows (one GROUP BY level, so
    they also work per group).

    - ``<window>__at_risk``: the window's denominator (``outcomes.AT_RISK``);
    - ``<window>__events``: units with a complication in the window, and
      ``__major`` those whose highest grade there is major;
    - ``<window>__grade_<k>_up`` (``with_grades``): units whose highest grade
      is k or more, whose differences give the highest-grade distribution.
    """

    def count(condition: Q | None = None) -> Count:
        return Count(units.key, distinct=units.distinct, filter=condition)

    aggregates = {}
    for window in WINDOWS:
        grade = f"grade_{window}"
        aggregates[f"{window}__at_risk"] = count(AT_RISK[window])
        aggregates[f"{window}__events"] = count(Q(**{f"{grade}__gt": 0}))
        aggregates[f"{window}__major"] = count(is_major(grade))
        if with_grades:
            for k in GRADES:
                aggregates[f"{window}__grade_{k}_up"] = count(Q(**{f"{grade}__gte": k}))
    return aggregates


def month_sums(*, with_grades: bool = False) -> dict[str, Sum]:
    """``window_counts``'s keys, as sums of the monthly rollup's columns."""
    at_risk = {
        Window.PER_PROCEDURAL.value: "units",
        Window.EARLY.value: "at_risk_early",
        Window.DELAYED.value: "at_risk_delayed",
    }
    sums = {}
    for window in WINDOWS:
        sums[f"{window}__at_risk"] = Sum(at_risk[window])
        sums[f"{window}__events"] = Sum(f"{window}_1")
        sums[f"{window}__major"] = Sum(f"{window}_{MAJOR_GRADE}")
        if with_grades:
            for k in GRADES:
                sums[f"{window}__grade_{k}_up"] = Sum(f"{window}_{k}")
    return sums


def added(*rows: dict[str, Any]) -> dict[str, int]:
    """Counts added key by key (a sum over no rollup row is None: 0)."""
    return {key: sum(row[key] or 0 for row in rows) for key in rows[0]}


def unit_totals(units: Units, split: Split | None, *, with_grades: bool = False) -> dict[str, int]:
    """The unit counts of ``window_counts`` for the whole selection."""
    if split is None:
        return units.rows.aggregate(**window_counts(units, with_grades=with_grades))
    return added(
        split.totals.aggregate(**month_sums(with_grades=with_grades)),
        split.edges.rows.aggregate(**window_counts(split.edges, with_grades=with_grades)),
    )


def highest_grades(row: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Units by their highest grade per window, from the "grade k or more" counts."""
    result = {}
    for window in WINDOWS:
        at_least = [row[f"{window}__grade_{g}_up"] for g in GRADES] + [0]
        result[window] = {str(g): at_least[i] - at_least[i + 1] for i, g in enumerate(GRADES)}
    return result


def window_rates(row: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The contract's ``windows`` object from one row of ``window_counts``."""
    result = {}
    for window in WINDOWS:
        events, major = row[f"{window}__events"], row[f"{window}__major"]
        result[window] = {
            **rate_summary(events, row[f"{window}__at_risk"]),
            "minor": events - major,
            "major": major,
        }
    return result
