"""What the dashboard's charts draw: per year and quarter, fracture type, site, and the highest
grades."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Unpack

from django.db.models.functions import TruncQuarter, TruncYear

from complications.stats.counts import (
    added,
    highest_grades,
    month_sums,
    unit_totals,
    window_counts,
    window_rates,
)
from complications.stats.rollup import rollup_split
from complications.stats.selection import Selection, Unit, unit_rows
from registry.models import FractureType, Site


def breakdown(  # type: ignore[no-untyped-def]
    *,
    user,
    unit: Unit = "fracture",
    **filters: Unpack[Selection],
) -> dict[str, Any]:
    """What the dashboard's charts draw: rates per year and per quarter, per
    fracture type and per site, and the distribution of the units' highest grades.

    Years and quarters are those of the procedure's local start date (its
    department's time zone); for the patient unit a year or quarter counts the
    patients treated in it, with the complications and contacts of that period's
    procedures. Rates by
    fracture type and by site are always per fracture: a procedure treating a
    sacrum and an acetabulum would otherwise belong to two groups at once.
    One query per kind of period, one for type and site (fractures add up), and
    the totals; for a selection by department and dates, the whole months come
    from the rollup (one more query per kind of period).
    """
    units = unit_rows(user, unit, filters)
    split = rollup_split(user, unit, filters)
    totals = unit_totals(units, split, with_grades=True)
    where = units if split is None else split.edges

    Period = list[tuple[str, dict[str, Any]]]

    def per_period(trunc: type[TruncQuarter | TruncYear], label: Callable[[date], str]) -> Period:
        # A period's units counted once (a patient treated twice in a year is one patient of
        # that year), so years are grouped in the database, not added up from quarters.
        periods: dict[str, list[dict[str, Any]]] = {}
        grouped = (
            where.rows.annotate(period=trunc("started_on"))
            .values("period")
            .annotate(**window_counts(where))
            .order_by()
        )
        for row in grouped:
            periods.setdefault(label(row.pop("period")), []).append(row)
        if split is not None:  # whole months of the rollup: fractures and procedures add up
            for row in split.months.values("month").annotate(**month_sums()).order_by():
                periods.setdefault(label(row.pop("month")), []).append(row)
        return [(key, window_rates(added(*rows))) for key, rows in sorted(periods.items())]

    fractures = unit_rows(user, "fracture", filters)
    per_pair = list(
        fractures.rows.values("type", "site").annotate(**window_counts(fractures)).order_by()
    )

    def per(field: str) -> dict[str, dict[str, int]]:
        grouped: dict[str, list[dict[str, Any]]] = {}
        for row in per_pair:
            counts = {k: v for k, v in row.items() if k not in ("type", "site")}
            grouped.setdefault(row[field], []).append(counts)
        return {value: added(*rows) for value, rows in grouped.items()}

    per_type, per_site = per("type"), per("site")
    return {
        "unit": unit,
        "by_year": [
            {"year": year, "windows": windows} for year, windows in per_period(TruncYear, _year)
        ],
        "by_quarter": [
            {"quarter": quarter, "windows": windows}
            for quarter, windows in per_period(TruncQuarter, _quarter_label)
        ],
        "by_fracture_type": [
            {"fracture_type": value, "label": str(label), "windows": window_rates(per_type[value])}
            for value, label in FractureType.choices
            if value in per_type
        ],
        "by_site": [
            {"site": value, "label": str(label), "windows": window_rates(per_site[value])}
            for value, label in Site.choices
            if value in per_site
        ],
        "grades": highest_grades(totals),
    }


def _year(start: datetime | date) -> str:
    return str(start.year)


def _quarter_label(start: datetime | date) -> str:
    return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
