"""A/B of the recommended indexes on the selector's own queries, without rebuilding them.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_bench_idx \\
        .venv/bin/python bench/ab_indexes.py --rounds 2

On a copy of the 1M registry where ``index_experiment.py`` created the
indexes, each round runs every query of ``selectors.rates`` (filtered
selection, each unit) under EXPLAIN ANALYZE twice: once as is, once inside a
transaction that drops the candidate indexes first and is rolled back (DROP
INDEX is transactional in PostgreSQL, so nothing is rebuilt). Alternating the
two in each round spreads the noise of a shared machine over both. Prints the
server-side execution time of each variant.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BENCH_MEMBER, setup_django  # noqa: E402
from index_experiment import INDEXES  # noqa: E402


def _names() -> list[str]:
    return [re.search(r"EXISTS (\w+)", sql).group(1) for sql in INDEXES]  # type: ignore[union-attr]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A/B of the candidate indexes.")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    setup_django()
    from baseline_sql import filtered_selection
    from django.contrib.auth.models import User
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from complications.selectors import rates

    member = User.objects.get(username=BENCH_MEMBER)
    statements: dict[str, list[str]] = {}
    for unit in ("fracture", "procedure", "patient"):
        with CaptureQueriesContext(connection) as captured:
            rates(user=member, unit=unit, **filtered_selection())
        statements[unit] = [q["sql"] for q in captured.captured_queries]

    def execution_ms(cursor, sql: str) -> float:  # type: ignore[no-untyped-def]
        cursor.execute("EXPLAIN (ANALYZE) " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        return float(re.search(r"Execution Time: ([\d.]+) ms", plan).group(1))  # type: ignore[union-attr]

    figures: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for variant in ("with", "without"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
                if variant == "without":
                    for name in _names():
                        cursor.execute(f"DROP INDEX {name}")
                for unit, sqls in statements.items():
                    total = sum(execution_ms(cursor, sql) for sql in sqls)
                    figures.setdefault((unit, variant), []).append(total)
                transaction.set_rollback(True)
    for unit in statements:
        with_, without = (statistics.median(figures[(unit, v)]) for v in ("with", "without"))
        print(
            f"filtered/{unit}: without {without:.0f} ms, with {with_:.0f} ms "
            f"({(1 - with_ / without) * 100:+.0f} % time saved)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
