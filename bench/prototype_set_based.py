"""A set-based variant of the selector's per-unit annotations, to size the fix.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_bench \\
        .venv/bin/python bench/prototype_set_based.py --scenario filtered

``selectors._annotated_units`` annotates each unit with five correlated
subqueries, and ``rates`` then aggregates conditional counts over them. Django
wraps the annotated queryset in ``FROM (SELECT ...) subquery``; PostgreSQL
pulls that subquery up and copies each correlated subquery into every
aggregate that references it (11 SubPlans instead of 5 in EXPLAIN), each run
once per unit. This prototype computes the same windows with joins and one
GROUP BY instead (``Max`` with a filter is not changed by the fan-out of
joining complications and contacts together, and neither is a ``Max`` of 0/1
contact flags); the grouped subquery cannot be pulled up, so every expression
is computed once, by hash joins. It prints both timings and checks the
numbers are equal. Fracture unit only: the procedure and patient units take
the same change with ``complications`` / ``follow_ups`` of the procedure.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BENCH_ADMIN, BENCH_MEMBER, p50, setup_django  # noqa: E402


def set_based_windows(user: Any, filters: dict[str, Any]) -> dict[str, Any]:
    from django.db.models import Case, F, IntegerField, Max, Q, Value, When

    from complications.selectors import WINDOWS, _window_aggregates, _windows, selected_fractures

    def flag(condition: Q) -> Case:
        return Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())

    after_end = Q(follow_ups__contact_at__gt=F("procedure__ended_at"))
    beyond = Q(follow_ups__contact_at__gt=F("procedure__ended_at") + DAY)
    units = (
        selected_fractures(user=user, **filters)
        .values("pk")
        .annotate(
            **{
                f"max_{w}": Max("complications__grade", filter=Q(complications__window=w))
                for w in WINDOWS
            },
            after_end_flag=Max(flag(after_end)),
            beyond_flag=Max(flag(beyond)),
        )
        .annotate(
            contact_after_end=Case(When(after_end_flag=1, then=True), default=False),
            contact_beyond_24h=Case(When(beyond_flag=1, then=True), default=False),
        )
    )
    return _windows(units.aggregate(**_window_aggregates()))


DAY = timedelta(hours=24)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Set-based windows vs the selector's.")
    parser.add_argument("--scenario", default="filtered", choices=["whole", "filtered"])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    setup_django()
    from baseline_sql import filtered_selection
    from django.contrib.auth.models import User
    from django.db import connection

    from complications.selectors import (
        _annotated_units,
        _window_aggregates,
        _windows,
        selected_fractures,
    )

    user = User.objects.get(username=BENCH_ADMIN if args.scenario == "whole" else BENCH_MEMBER)
    filters = {} if args.scenario == "whole" else filtered_selection()

    def current() -> dict[str, Any]:
        fractures = selected_fractures(user=user, **filters)
        row = _annotated_units(user, "fracture", fractures).aggregate(**_window_aggregates())
        return _windows(row)

    def proposed() -> dict[str, Any]:
        return set_based_windows(user, filters)

    figures = {}
    results = {}
    for label, fn in (("correlated (current)", current), ("set-based (proposed)", proposed)):
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            results[label] = fn()
            times.append((time.perf_counter() - start) * 1000)
        figures[label] = p50(times)
        print(f"{label}: p50 {figures[label]:.0f} ms over {args.runs} runs", flush=True)
    same = results["correlated (current)"] == results["set-based (proposed)"]
    print(f"same windows: {same}")
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        print(f"jit = {cursor.fetchone()[0]}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
