"""Benchmark (f): the three outcome analyses (cumulative incidence, funnel plot, O/E).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_bench \\
        .venv/bin/python bench/bench_outcomes.py --runs 3

For the whole registry (the superuser) and one department (a member), it times
``cumulative_incidence`` (delayed, any grade, per fracture), ``funnel`` (delayed, major)
and ``risk_adjusted``, each call cold (nothing of them is cached), counts their queries,
and checks that the cumulative incidence equals an independent recomputation: the
estimator of scikit-survival (when installed) on the same units' times and kinds.

Targets (issue 15): each answer under 300 ms for a department and under 1 s for the whole
registry at 1M fractures.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    BENCH_ADMIN,
    BENCH_MEMBER,
    fractures_in_db,
    p50,
    print_table,
    setup_django,
    timed,
    verdict,
    write_json,
)

TARGET_MS = {"whole": 1000.0, "department": 300.0}


def _reference_matches(user: Any, filters: dict[str, Any], answer: dict[str, Any]) -> bool | None:
    try:
        import numpy as np
        from sksurv.nonparametric import cumulative_incidence_competing_risks
    except ImportError:
        return None
    from complications.analysis.incidence import unit_times

    times, kinds = unit_times(user=user, **filters)
    if not any(k == 1 for k in kinds) or not any(k == 2 for k in kinds):
        return None
    x, cif = cumulative_incidence_competing_risks(np.asarray(kinds), np.asarray(times))
    ours = {point["day"]: point["cif"] for point in answer["curve"]}
    return all(
        abs(round(float(c), 4) - ours[round(float(t), 4)]) < 1e-9
        for t, c in zip(x, cif[1], strict=True)
        if round(float(t), 4) in ours
    )


def measure(runs: int) -> dict[str, Any]:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from complications.analysis.funnel import funnel
    from complications.analysis.incidence import cumulative_incidence
    from complications.analysis.risk import risk_adjusted
    from registry.models import Department

    admin = User.objects.get(username=BENCH_ADMIN)
    member = User.objects.get(username=BENCH_MEMBER)
    department = Department.objects.filter(members=member).first()
    selections = {"whole": (admin, {}), "department": (member, {"department": department.pk})}
    analyses = {
        "cumulative_incidence": lambda user, filters: cumulative_incidence(user=user, **filters),
        "funnel": lambda user, filters: funnel(user=user, **filters),
        "risk_adjusted": lambda user, filters: risk_adjusted(user=user, **filters),
    }
    results = []
    for scenario, (user, filters) in selections.items():
        for name, call in analyses.items():
            with CaptureQueriesContext(connection) as captured:
                first = call(user, filters)
            times, _ = timed(lambda c=call, u=user, f=filters: c(u, f), runs, warmup=0)
            same = (
                _reference_matches(user, filters, first) if name == "cumulative_incidence" else None
            )
            ok = p50(times) < TARGET_MS[scenario]
            results.append(
                {
                    "scenario": scenario,
                    "analysis": name,
                    "runs": runs,
                    "queries": len(captured),
                    "p50_ms": round(p50(times), 1),
                    "max_ms": round(max(times), 1),
                    "equals_reference": same,
                    "target_ms": TARGET_MS[scenario],
                    "ok": ok,
                }
            )
            print(f"  {scenario}/{name}: p50 {p50(times):.0f} ms", flush=True)
    return {"fractures": fractures_in_db(), "results": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    setup_django()
    data = measure(args.runs)
    print_table(
        f"(f) outcome analyses at {data['fractures']} fractures",
        ["selection", "analysis", "queries", "p50 ms", "max ms", "= reference", "target"],
        [
            [
                r["scenario"],
                r["analysis"],
                r["queries"],
                r["p50_ms"],
                r["max_ms"],
                r["equals_reference"],
                f"{verdict(r['ok'])} (< {r['target_ms']:.0f} ms)",
            ]
            for r in data["results"]
        ],
    )
    write_json(f"outcomes_{data['fractures']}", data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
