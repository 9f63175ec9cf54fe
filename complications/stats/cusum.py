"""The series the quality CUSUM charts."""

from __future__ import annotations

from typing import Any

from django.db.models import Case, IntegerField, Q, Value, When

from complications.counting import AT_RISK, is_major
from complications.models import FractureOutcome
from complications.stats.selection import WINDOWS, summary_rows
from registry.models import Department


def cusum_series(  # type: ignore[no-untyped-def]
    *, user, department: Department | int, window: str
) -> list[dict[str, Any]]:
    """The department's fractures at risk in the window, oldest procedure first,
    each with ``major``: whether it had a major complication in the window.

    What the quality CUSUM charts: a fracture is in the chart when it is in
    the window's denominator of ``rates`` (every fracture during the
    procedure; followed up after the end, or beyond 24 hours, for the early
    and delayed windows), so the chart compares the same proportion as the
    dashboard's "major" rate with the target. One query, grouped per fracture
    on the fracture summary with the same denominator rule as ``rates``; ties
    in start time are broken by procedure then fracture id, so the order is stable.
    """
    if window not in WINDOWS:
        raise ValueError(f"unknown window {window!r}; expected one of {', '.join(WINDOWS)}")
    rows = (
        summary_rows(FractureOutcome, user=user, department=department)
        .filter(AT_RISK[window] or Q())
        .annotate(
            major=Case(
                When(is_major(f"grade_{window}"), then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            )
        )
        .values("pk", "procedure_id", "started_at", "major")
        .order_by("started_at", "procedure_id", "pk")
    )
    return [
        {
            "fracture": row["pk"],
            "procedure": row["procedure_id"],
            "started_at": row["started_at"],
            "major": row["major"] > 0,
        }
        for row in rows
    ]
