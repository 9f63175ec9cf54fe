"""Benchmark (b): the streamed CSV exports against PostgreSQL ``COPY (...) TO STDOUT``.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_bench \\
        .venv/bin/python bench/bench_export.py --runs 1

Each export is streamed through the real endpoint (``GET
/api/v1/export/<kind>.csv`` with a token, every middleware included) in a
fresh interpreter, consuming the body chunk by chunk as a client would and
throwing it away; that child reports its rows, seconds and peak RSS
(``ru_maxrss``: the whole process, Django included, which is what a gunicorn
worker would need). The baseline is ``COPY (<the same rows and columns>) TO
STDOUT WITH CSV`` of a hand-written set-based query, read by psycopg2 into a
null sink: the fastest way PostgreSQL can hand the same table to a client.

Targets (the issue): at least half the rows per second of COPY, and a peak
memory under 150 MB.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    BENCH_ADMIN,
    fractures_in_db,
    maxrss_mb,
    p50,
    print_table,
    run_child,
    setup_django,
    verdict,
    write_json,
)

RATE_TARGET = 0.5
MEMORY_TARGET_MB = 150.0

# The same rows and columns as complications.exports (identifiers included, as
# for the superuser), built set-based: one pass, no per-row subquery.
COPY_SQL = {
    "complications": """
        SELECT e.id, e.procedure_id, p.patient_id, pa.registry_id, d.code,
               (SELECT string_agg(cf.fracture_id::text, ';' ORDER BY cf.fracture_id)
                  FROM complications_complicationevent_fractures cf
                 WHERE cf.complicationevent_id = e.id),
               e.term_id, t.name, t.soc, e.specify,
               to_char(e.onset_at AT TIME ZONE d.time_zone, 'YYYY-MM-DD"T"HH24:MI:SS'),
               e.onset_date, e.during_procedure, e."window", e.hours_after_end, e.facts::text,
               e.auto_grade, e.grade_override, e.grade,
               CASE WHEN e.grade >= 3 THEN 'major' ELSE 'minor' END,
               e.grade_rationale, e.outcome, e.relatedness, e.cirse_grade, e.sir_class
        FROM complications_complicationevent e
        JOIN registry_procedure p ON p.id = e.procedure_id
        JOIN registry_patient pa ON pa.id = p.patient_id
        JOIN registry_department d ON d.id = pa.department_id
        JOIN complications_ctcaeterm t ON t.code = e.term_id
        WHERE EXISTS (SELECT 1 FROM complications_complicationevent_fractures cf
                      WHERE cf.complicationevent_id = e.id)
        ORDER BY p.started_at, e.procedure_id, e.id
    """,
    "cases": """
        WITH ev AS (
            SELECT cf.fracture_id,
                   max(e.grade) FILTER (WHERE e."window" = 'per_procedural') AS g_pp,
                   max(e.grade) FILTER (WHERE e."window" = 'early') AS g_early,
                   max(e.grade) FILTER (WHERE e."window" = 'delayed') AS g_delayed
            FROM complications_complicationevent_fractures cf
            JOIN complications_complicationevent e ON e.id = cf.complicationevent_id
            GROUP BY cf.fracture_id
        ), fu AS (
            SELECT ff.fracture_id,
                   bool_or(c.contact_at > p.ended_at) AS after_end,
                   bool_or(c.contact_at > p.ended_at + interval '24 hours') AS beyond
            FROM registry_followup_fractures ff
            JOIN registry_followup c ON c.id = ff.followup_id
            JOIN registry_procedure p ON p.id = c.procedure_id
            GROUP BY ff.fracture_id
        )
        SELECT f.id, f.procedure_id, p.patient_id, pa.registry_id, d.code, pa.sex,
               date_part('year', age((p.started_at AT TIME ZONE d.time_zone)::date, pa.birth_date)),
               to_char(p.started_at AT TIME ZONE d.time_zone, 'YYYY-MM-DD"T"HH24:MI:SS'),
               to_char(p.ended_at AT TIME ZONE d.time_zone, 'YYYY-MM-DD"T"HH24:MI:SS'),
               p.guidance, p.anesthesia, p.operator, f.type, f.site, f.side, f.aetiology,
               f.screws, f.cement_augmented, coalesce(fu.after_end, false),
               coalesce(fu.beyond, false), ev.g_pp IS NOT NULL, ev.g_pp,
               ev.g_early IS NOT NULL, ev.g_early, ev.g_delayed IS NOT NULL, ev.g_delayed
        FROM registry_fracture f
        JOIN registry_procedure p ON p.id = f.procedure_id
        JOIN registry_patient pa ON pa.id = p.patient_id
        JOIN registry_department d ON d.id = pa.department_id
        LEFT JOIN ev ON ev.fracture_id = f.id
        LEFT JOIN fu ON fu.fracture_id = f.id
        ORDER BY p.started_at, f.procedure_id, f.id
    """,
}


class _Sink(io.RawIOBase):
    """Counts lines and bytes; keeps nothing."""

    def __init__(self) -> None:
        self.lines = 0
        self.bytes = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.lines += chunk.count(b"\n")
        self.bytes += len(chunk)
        return len(chunk)


def child(kind: str) -> None:
    """Stream one export through the endpoint; print one JSON line with the figures."""
    setup_django()
    from django.contrib.auth.models import User
    from django.test import Client
    from rest_framework.authtoken.models import Token

    token, _ = Token.objects.get_or_create(user=User.objects.get(username=BENCH_ADMIN))
    client = Client(HTTP_AUTHORIZATION=f"Token {token.key}")
    # An empty export first: imports and URL resolution are not the export's cost.
    client.get(f"/api/v1/export/{kind}.csv?date_from=2999-01-01")
    rss_before = maxrss_mb()
    start = time.perf_counter()
    response = client.get(f"/api/v1/export/{kind}.csv")
    assert response.status_code == 200, response.status_code
    lines = size = 0
    first_byte = None
    for chunk in response.streaming_content:
        if first_byte is None:
            first_byte = time.perf_counter() - start
        lines += chunk.count(b"\n")
        size += len(chunk)
    seconds = time.perf_counter() - start
    # Rows = lines minus the header (no field of these tables holds a newline).
    print(
        json.dumps(
            {
                "rows": lines - 1,
                "seconds": seconds,
                "bytes": size,
                "first_byte_s": first_byte,
                "rss_before_mb": rss_before,
                "peak_rss_mb": maxrss_mb(),
            }
        )
    )


def copy_baseline(kind: str) -> dict[str, Any]:
    from django.db import connection

    sink = _Sink()
    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(f"COPY ({COPY_SQL[kind]}) TO STDOUT WITH (FORMAT csv)", sink)
    return {"rows": sink.lines, "seconds": time.perf_counter() - start, "bytes": sink.bytes}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark (b): streamed CSV export vs COPY.")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--kinds", default="complications,cases")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    setup_django()
    n_fractures = fractures_in_db()
    results = []
    for kind in args.kinds.split(","):
        streamed = [run_child(["bench/bench_export.py", "--child", kind]) for _ in range(args.runs)]
        copies = [copy_baseline(kind) for _ in range(args.runs)]
        export_s = p50([s["seconds"] for s in streamed])
        copy_s = p50([c["seconds"] for c in copies])
        rows = streamed[0]["rows"]
        export_rate, copy_rate = rows / export_s, copies[0]["rows"] / copy_s
        peak = max(s["peak_rss_mb"] for s in streamed)
        results.append(
            {
                "kind": kind,
                "runs": args.runs,
                "rows": rows,
                "copy_rows": copies[0]["rows"],
                "export_s": round(export_s, 2),
                "copy_s": round(copy_s, 2),
                "export_rows_per_s": round(export_rate),
                "copy_rows_per_s": round(copy_rate),
                "share_of_copy": round(export_rate / copy_rate, 2),
                "first_byte_s": round(p50([s["first_byte_s"] or 0 for s in streamed]), 2),
                "peak_rss_mb": round(peak, 1),
                "rss_before_mb": round(streamed[0]["rss_before_mb"], 1),
                "export_mb": round(streamed[0]["bytes"] / 2**20, 1),
                "rate_ok": export_rate / copy_rate >= RATE_TARGET,
                "memory_ok": peak < MEMORY_TARGET_MB,
                "same_rows": rows == copies[0]["rows"],
            }
        )
        print(f"  {kind}: export {export_s:.1f} s, COPY {copy_s:.1f} s, {rows:,} rows", flush=True)
    print_table(
        f"(b) streamed CSV export vs COPY TO STDOUT, {n_fractures:,} fractures, p50 of {args.runs}",
        [
            "export",
            "rows",
            "MB",
            "export s",
            "rows/s",
            "COPY s",
            "COPY rows/s",
            "share",
            ">=0.5",
            "first byte s",
            "RSS start MB",
            "peak RSS MB",
            "<150MB",
            "same rows",
        ],
        [
            [
                r["kind"],
                f"{r['rows']:,}",
                r["export_mb"],
                r["export_s"],
                f"{r['export_rows_per_s']:,}",
                r["copy_s"],
                f"{r['copy_rows_per_s']:,}",
                f"{r['share_of_copy']:.2f}",
                verdict(r["rate_ok"]),
                r["first_byte_s"],
                r["rss_before_mb"],
                r["peak_rss_mb"],
                verdict(r["memory_ok"]),
                "yes" if r["same_rows"] else "NO",
            ]
            for r in results
        ],
    )
    write_json(args.out or f"export_{n_fractures}", {"fractures": n_fractures, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
