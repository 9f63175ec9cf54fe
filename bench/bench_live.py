"""Benchmark (d): from a committed write to the new rates on a polling dashboard.

    REDIS_URL=redis://127.0.0.1:6379/14 \\
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_bench \\
        .venv/bin/python bench/bench_live.py --writes 5

The live mechanism of ``complications.live``: a write moves the stats version
(a ``StatsChange`` row in its own transaction); an open dashboard polls ``GET
/api/v1/stats/version/`` every half second (dashboard.js ``POLL_MS``) and, when the
version moved, fetches ``GET /api/v1/stats/rates/`` and ``GET
/api/v1/stats/breakdown/`` (the charts), which recompute (cached under the new
version). A poller process does exactly that through the real endpoints as the
department member, and prints when it saw each version and when it held the
rates and charts computed at it. This process records per-procedural
complications through the service, one at a time, and measures, for each:

- notice: commit -> the poller saw the new version (bounded by the poll
  interval);
- visible: commit -> the poller holds rates that include the write (notice
  plus the recomputation of the rates on a cache miss).

Each write is checked to be visible: the per-procedural events of the fracture
unit must have grown. The complications are deleted afterwards. Run it with the
production cache (REDIS_URL) to measure that path. Target (the issue): under 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    BENCH_MEMBER,
    ROOT,
    delete_complications,
    fractures_in_db,
    p50,
    p95,
    print_table,
    setup_django,
    verdict,
    write_json,
)

TARGET_S = 1.0
POLL_S = 0.5  # dashboard.js POLL_MS


def poller(interval: float) -> None:
    """Poll like dashboard.js; one JSON line per version change, with the rates' events."""
    setup_django()
    from django.contrib.auth.models import User
    from django.test import Client
    from rest_framework.authtoken.models import Token

    token, _ = Token.objects.get_or_create(user=User.objects.get(username=BENCH_MEMBER))
    client = Client(HTTP_AUTHORIZATION=f"Token {token.key}")
    version = client.get("/api/v1/stats/version/").json()["version"]
    events = client.get("/api/v1/stats/rates/").json()["windows"]["per_procedural"]["events"]
    print(json.dumps({"ready": True, "version": version, "events": events}), flush=True)
    while True:
        started = time.time()
        current = client.get("/api/v1/stats/version/").json()["version"]
        if current != version:
            seen = time.time()
            rates = client.get("/api/v1/stats/rates/").json()
            # The dashboard fetches the charts' data with the rates (in parallel;
            # one after the other here, an upper bound).
            client.get("/api/v1/stats/breakdown/").json()
            print(
                json.dumps(
                    {
                        "version": current,
                        "seen": seen,
                        "shown": time.time(),
                        "events": rates["windows"]["per_procedural"]["events"],
                    }
                ),
                flush=True,
            )
            version = current
        time.sleep(max(0.0, interval - (time.time() - started)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark (d): write -> dashboard delay.")
    parser.add_argument("--writes", type=int, default=5)
    parser.add_argument("--interval", type=float, default=POLL_S)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--poller", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
    if args.poller:
        poller(args.interval)
        return 0
    setup_django()
    from django.contrib.auth.models import User

    from complications.live import bump_stats_version
    from complications.services import complication_record
    from registry.models import Procedure

    member = User.objects.get(username=BENCH_MEMBER)
    # Procedures of the member's department without a per-procedural complication yet,
    # so each write adds at least one event to the fracture unit's numerator.
    candidates = list(
        Procedure.objects.filter(patient__department__in=member.departments.all())
        .exclude(complications__window="per_procedural")
        .order_by("id")
        .values_list("id", flat=True)[:5000]
    )
    picks = random.Random(args.seed).sample(candidates, args.writes)
    child = subprocess.Popen(
        [sys.executable, "bench/bench_live.py", "--poller", "--interval", str(args.interval)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=os.environ.copy(),
    )
    assert child.stdout is not None
    created: list[int] = []
    samples: list[dict[str, Any]] = []
    try:
        ready = json.loads(child.stdout.readline())
        assert ready.get("ready"), ready
        events_before = ready["events"]
        for procedure_id in picks:
            procedure = Procedure.objects.select_related("patient__department").get(pk=procedure_id)
            # Commit happens when complication_record's atomic block exits; the
            # on-commit bump runs right after, before the call returns.
            event = complication_record(
                procedure=procedure,
                term="10033371",
                facts={"symptoms": "mild"},
                during_procedure=True,
                actor=member,
            )
            committed = time.time()
            created.append(event.pk)
            line = json.loads(child.stdout.readline())
            samples.append(
                {
                    "notice_s": round(line["seen"] - committed, 3),
                    "visible_s": round(line["shown"] - committed, 3),
                    "recompute_s": round(line["shown"] - line["seen"], 3),
                    "events": line["events"],
                    "included": line["events"] > events_before,
                }
            )
            events_before = line["events"]
            print(
                f"  write {len(samples)}: visible after {samples[-1]['visible_s']:.2f} s",
                flush=True,
            )
            # Land the next write at a random phase of the poll interval.
            time.sleep(random.Random(procedure_id).uniform(0, args.interval))
    finally:
        child.kill()
        delete_complications(created)
        bump_stats_version()  # the clean-up is a write too: no dashboard may keep the bench's rows

    n_fractures = fractures_in_db()
    visible = [s["visible_s"] for s in samples]
    result = {
        "writes": len(samples),
        "poll_interval_s": args.interval,
        "notice_p50_s": round(p50([s["notice_s"] for s in samples]), 3),
        "recompute_p50_s": round(p50([s["recompute_s"] for s in samples]), 3),
        "visible_p50_s": round(p50(visible), 3),
        "visible_p95_s": round(p95(visible), 3),
        "visible_max_s": round(max(visible), 3),
        "all_included": all(s["included"] for s in samples),
        "ok": p50(visible) < TARGET_S,
        "samples": samples,
    }
    print_table(
        f"(d) write -> dashboard (poll every {args.interval:g} s, rates recomputed on a new "
        f"version), {n_fractures:,} fractures",
        [
            "writes",
            "notice p50 s",
            "recompute p50 s",
            "visible p50 s",
            "visible p95 s",
            "max s",
            "write included",
            "<1 s",
        ],
        [
            [
                result["writes"],
                result["notice_p50_s"],
                result["recompute_p50_s"],
                result["visible_p50_s"],
                result["visible_p95_s"],
                result["visible_max_s"],
                "yes" if result["all_included"] else "NO",
                verdict(result["ok"]),
            ]
        ],
    )
    write_json(args.out or f"live_{n_fractures}", {"fractures": n_fractures, **result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
