"""What the dashboard's charts draw: per quarter, fracture type, site, and the highest grades."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Unpack

from django.db.models.functions import TruncQuarter

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
    """What the dashboard's charts draw: rates per quarter, per fracture type
    and per site, and the distribution of the units' highest grades.

    Quarters are those of the procedure's local start date (its department's
    time zone); for
    the patient unit a quarter counts the patients treated in it, with the
    complications and contacts of that quarter's procedures. Rates by
    fracture type and by site are always per fracture: a procedure treating a
    sacrum and an acetabulum would otherwise belong to two groups at once.
    Three queries (by type and by site from one grouping: fractures add up);
    for a selection by department and dates, the whole months from the rollup.
    """
    units = unit_rows(user, unit, filters)
    split = rollup_split(user, unit, filters)
    totals = unit_totals(units, split, with_grades=True)
    quarters: dict[str, list[dict[str, Any]]] = {}
    where = units if split is None else split.edges
    per_quarter = (
        where.rows.annotate(quarter=TruncQuarter("started_on"))
        .values("quarter")
        .annotate(**window_counts(where))
        .order_by()
    )
    for row in per_quarter:
        quarters.setdefault(_quarter_label(row.pop("quarter")), []).append(row)
    if split is not None:
        for row in split.months.values("month").annotate(**month_sums()).order_by():
            quarters.setdefault(_quarter_label(row.pop("month")), []).append(row)
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
        "by_quarter": [
            {"quarter": label, "windows": window_rates(added(*rows))}
            for label, rows in sorted(quarters.items())
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


def _quarter_label(start: datetime | date) -> str:
    return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
