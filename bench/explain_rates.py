"""Where the rates selector spends its time: EXPLAIN (ANALYZE, BUFFERS) of each of its queries.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_bench \\
        .venv/bin/python bench/explain_rates.py --unit fracture --scenario whole

Captures the SQL the selector issues (``CaptureQueriesContext``), runs each
statement again under EXPLAIN ANALYZE, and writes the plans to
``bench/out/explain_<scenario>_<unit>_<fractures>.txt`` (and the baseline
SQL's plan after them, with ``--baseline``), printing each query's execution
time. Used for the recommendations in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BENCH_ADMIN, BENCH_MEMBER, OUT, fractures_in_db, setup_django  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="EXPLAIN ANALYZE of the rates selector's queries.")
    parser.add_argument("--unit", default="fracture", choices=["fracture", "procedure", "patient"])
    parser.add_argument("--scenario", default="whole", choices=["whole", "filtered"])
    parser.add_argument("--baseline", action="store_true", help="explain the hand-written SQL too")
    args = parser.parse_args(argv)
    setup_django()
    from baseline_sql import filtered_selection, rates_sql
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from complications.stats.rates import rates

    user = User.objects.get(username=BENCH_ADMIN if args.scenario == "whole" else BENCH_MEMBER)
    filters = {} if args.scenario == "whole" else filtered_selection()
    with CaptureQueriesContext(connection) as captured:
        rates(user=user, unit=args.unit, **filters)
    statements = [q["sql"] for q in captured.captured_queries]
    if args.baseline:
        sql, params = rates_sql(
            args.unit, filters, member_of=None if user.is_superuser else user.pk
        )
        with connection.cursor() as cursor:
            statements.append(cursor.mogrify(sql, params).decode())
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"explain_{args.scenario}_{args.unit}_{fractures_in_db()}.txt"
    with open(path, "w") as out, connection.cursor() as cursor:
        for number, sql in enumerate(statements, start=1):
            label = (
                "baseline SQL"
                if args.baseline and number == len(statements)
                else f"selector query {number}"
            )
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            timing = re.search(r"Execution Time: ([\d.]+) ms", plan)
            print(f"{label}: {timing.group(1) if timing else '?'} ms")
            out.write(f"-- {label}\n{sql}\n\n{plan}\n\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
