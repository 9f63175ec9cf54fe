"""Benchmark (a): the rates selector against the best hand-written SQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_bench \\
        .venv/bin/python bench/bench_rates.py --runs 7

For the whole registry (the superuser) and filtered selections of a department
member (five whole years; the same with dates inside months; five years of
pathological fractures), and each unit, it times ``stats.rates.rates`` and the single
statement of ``baseline_sql`` in the same run on the same data, checks that
both give the same numbers (a mismatch is printed and fails the run), counts
the selector's queries, and measures the Python heap peak of one selector call
with tracemalloc (during the untimed warm-up call: tracemalloc slows what it traces).

Targets (the issue): selector p50 within 1.3x of the SQL's, and under 150 ms
at 1M fractures. The p50 target is only judged at >= 1M fractures; below, the
column says "n/a".
"""

from __future__ import annotations

import argparse
import sys
import tracemalloc
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    BENCH_ADMIN,
    BENCH_MEMBER,
    fractures_in_db,
    p50,
    p95,
    print_table,
    setup_django,
    timed,
    verdict,
    write_json,
)

RATIO_TARGET = 1.3
SELECTOR_RUNS = 15
P50_TARGET_MS = 150.0
P50_TARGET_AT = 1_000_000


def measure(runs: int, units: list[str], scenarios: list[str]) -> dict[str, Any]:
    from baseline_sql import comparable_selector, comparable_sql, filtered_selection, rates_sql, run
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from complications.stats.rates import rates

    admin = User.objects.get(username=BENCH_ADMIN)
    member = User.objects.get(username=BENCH_MEMBER)
    selections = {
        "whole": (admin, {}),
        "filtered": (member, filtered_selection()),
        # Dates inside months: whole months from the rollup, the days at the ends
        # from the summary rows.
        "days": (member, {"date_from": date(2018, 1, 15), "date_to": date(2022, 12, 10)}),
        # A fracture filter: no rollup, one scan of the selected summary rows.
        "typed": (member, {**filtered_selection(), "fracture_type": "pathological"}),
    }
    n_fractures = fractures_in_db()
    results = []
    for scenario in scenarios:
        user, filters = selections[scenario]
        for unit in units:

            def selector(user: Any = user, unit: str = unit, filters: dict = filters) -> dict:
                return rates(user=user, unit=unit, **filters)

            # The warm-up call counts the queries and traces the Python heap peak
            # (tracemalloc slows allocations, not the database, so the timed calls
            # come after it, untraced).
            tracemalloc.start()
            with CaptureQueriesContext(connection) as captured:
                selector()
            _, heap_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            queries = len(captured)
            # The selector reads the outcome summary (tens of ms): more runs for
            # its p50 than the hand-written SQL over the raw rows can afford at 1M.
            sel_times, sel_result = timed(selector, max(runs, SELECTOR_RUNS), warmup=0)

            sql, params = rates_sql(unit, filters, member_of=None if user.is_superuser else user.pk)
            with connection.cursor() as cursor:
                sql_times, sql_result = timed(lambda c=cursor, s=sql, p=params: run(c, s, p), runs)

            same = comparable_selector(sel_result) == comparable_sql(sql_result)
            if not same:
                print(
                    f"MISMATCH {scenario}/{unit}:\n selector {comparable_selector(sel_result)}"
                    f"\n sql      {comparable_sql(sql_result)}",
                    file=sys.stderr,
                )

            ratio = p50(sel_times) / p50(sql_times)
            judged = n_fractures >= P50_TARGET_AT
            results.append(
                {
                    "scenario": scenario,
                    "unit": unit,
                    "runs": runs,
                    "queries": queries,
                    "selector_p50_ms": round(p50(sel_times), 1),
                    "selector_p95_ms": round(p95(sel_times), 1),
                    "sql_p50_ms": round(p50(sql_times), 1),
                    "sql_p95_ms": round(p95(sql_times), 1),
                    "ratio": round(ratio, 2),
                    "same_numbers": same,
                    "heap_peak_mb": round(heap_peak / 2**20, 2),
                    "at_risk": sel_result["windows"]["per_procedural"]["at_risk"],
                    "ratio_ok": ratio <= RATIO_TARGET,
                    "p50_ok": (p50(sel_times) < P50_TARGET_MS) if judged else None,
                }
            )
            print(
                f"  {scenario}/{unit}: selector p50 {p50(sel_times):.0f} ms, "
                f"SQL p50 {p50(sql_times):.0f} ms, same={same}",
                flush=True,
            )
    return {"fractures": n_fractures, "results": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark (a): rates selector vs hand-written SQL."
    )
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--units", default="fracture,procedure,patient")
    parser.add_argument("--scenarios", default="whole,filtered,days,typed")
    parser.add_argument(
        "--out", default=None, help="bench/out/<name>.json (default: rates_<fractures>)"
    )
    args = parser.parse_args(argv)
    setup_django()
    data = measure(args.runs, args.units.split(","), args.scenarios.split(","))
    print_table(
        f"(a) rates selector vs hand-written SQL, {data['fractures']:,} fractures, "
        f"{args.runs} runs",
        [
            "selection",
            "unit",
            "units",
            "queries",
            "sel p50",
            "sel p95",
            "SQL p50",
            "SQL p95",
            "ratio",
            "<=1.3x",
            "p50<150ms",
            "same",
            "heap MB",
        ],
        [
            [
                r["scenario"],
                r["unit"],
                f"{r['at_risk']:,}",
                r["queries"],
                r["selector_p50_ms"],
                r["selector_p95_ms"],
                r["sql_p50_ms"],
                r["sql_p95_ms"],
                f"{r['ratio']:.2f}x",
                verdict(r["ratio_ok"]),
                "n/a" if r["p50_ok"] is None else verdict(r["p50_ok"]),
                "yes" if r["same_numbers"] else "NO",
                r["heap_peak_mb"],
            ]
            for r in data["results"]
        ],
    )
    write_json(args.out or f"rates_{data['fractures']}", data)
    return 0 if all(r["same_numbers"] for r in data["results"]) else 1


if __name__ == "__main__":
    sys.exit(main())
