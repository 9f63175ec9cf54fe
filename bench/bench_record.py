"""Benchmark (c): recording a complication, grading included.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_bench \\
        .venv/bin/python bench/bench_record.py --writes 50

Two paths, each timed per write on procedures of the department member's
department picked at random (seeded):
- service: ``complications.services.complication_record`` (validation,
  grading from facts, window derivation, the insert, the fracture links, the
  history rows, the on-commit version bump);
- API: ``POST /api/v1/complications/`` with a token as the department member
  (authentication, serializer validation, permission and scoping checks, the
  service, the response body).

The complications recorded are deleted afterwards, so the registry the other
benchmarks measure is unchanged (their history rows stay: deleting a record
writes history too). Target (the issue): p50 under 25 ms.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    BENCH_MEMBER,
    delete_complications,
    fractures_in_db,
    p50,
    p95,
    print_table,
    setup_django,
    verdict,
    write_json,
)

P50_TARGET_MS = 25.0
# (term, facts) of realistic entries; each is graded by the service on every write.
ENTRIES: list[tuple[str, dict[str, Any]]] = [
    ("10048038", {"intervention": "oral"}),
    ("10033371", {"symptoms": "moderate", "adl": "instrumental"}),
    ("10061017", {"intervention": "iv"}),
    ("10016558", {"temperature_c": 38.6}),
    ("10002272", {"hemoglobin_g_dl": 9.1}),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark (c): recording a complication.")
    parser.add_argument("--writes", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    setup_django()
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from rest_framework.authtoken.models import Token

    from complications.live import bump_stats_version
    from complications.services import complication_record
    from registry.models import Procedure

    rng = random.Random(args.seed)
    member = User.objects.get(username=BENCH_MEMBER)
    department = member.departments.get()
    ids = list(
        Procedure.objects.filter(patient__department=department)
        .order_by("id")
        .values_list("id", flat=True)[:20000]
    )
    picks = rng.sample(ids, min(len(ids), 2 * args.writes + 2))
    created: list[int] = []

    def service_write(procedure_id: int, entry: tuple[str, dict[str, Any]]) -> None:
        procedure = Procedure.objects.select_related("patient__department").get(pk=procedure_id)
        event = complication_record(
            procedure=procedure,
            term=entry[0],
            facts=entry[1],
            onset_at=procedure.ended_at + timedelta(hours=6),
            actor=member,
        )
        created.append(event.pk)

    token, _ = Token.objects.get_or_create(user=member)
    client = Client(HTTP_AUTHORIZATION=f"Token {token.key}")

    def api_write(procedure_id: int, entry: tuple[str, dict[str, Any]]) -> None:
        ended = Procedure.objects.values_list("ended_at", flat=True).get(pk=procedure_id)
        response = client.post(
            "/api/v1/complications/",
            {
                "procedure": procedure_id,
                "term": entry[0],
                "facts": entry[1],
                "onset_at": (ended + timedelta(hours=6)).isoformat(),
            },
            content_type="application/json",
        )
        if response.status_code != 201:
            raise SystemExit(f"API write failed: {response.status_code} {response.content[:500]!r}")
        created.append(response.json()["id"])

    results = []
    try:
        for path, write in (("service", service_write), ("api", api_write)):
            # One untimed write per path: first-call imports and caches are not a write's cost.
            with CaptureQueriesContext(connection) as captured:
                write(picks.pop(), ENTRIES[0])
            queries = len(captured)
            times = []
            for i in range(args.writes):
                procedure_id, entry = picks.pop(), ENTRIES[i % len(ENTRIES)]
                start = time.perf_counter()
                write(procedure_id, entry)
                times.append((time.perf_counter() - start) * 1000)
            results.append(
                {
                    "path": path,
                    "writes": args.writes,
                    "queries": queries,
                    "p50_ms": round(p50(times), 1),
                    "p95_ms": round(p95(times), 1),
                    "max_ms": round(max(times), 1),
                    "ok": p50(times) < P50_TARGET_MS,
                }
            )
    finally:
        delete_complications(created)
        bump_stats_version()  # the clean-up is a write too: cached rates must not keep the rows

    n_fractures = fractures_in_db()
    print_table(
        f"(c) recording a complication (grading included), {n_fractures:,} fractures",
        ["path", "writes", "queries/write", "p50 ms", "p95 ms", "max ms", "p50<25ms"],
        [
            [
                r["path"],
                r["writes"],
                r["queries"],
                r["p50_ms"],
                r["p95_ms"],
                r["max_ms"],
                verdict(r["ok"]),
            ]
            for r in results
        ],
    )
    write_json(args.out or f"record_{n_fractures}", {"fractures": n_fractures, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
