"""Benchmark: the FHIR Bulk Data export (NDJSON per resource type) beside the CSV export,
both as background jobs over the whole registry.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_bench \\
        .venv/bin/python bench/bench_fhir_bulk.py --runs 1

Each job runs in a fresh interpreter through the job service
(``complications.exports.export_job_run``: the exporter, the progress updates,
the temporary file moved into place), as the benchmark superuser, which is
what a Celery worker does for ``GET /api/v1/fhir/$export`` (format ``ndjson``)
and ``POST /api/v1/exports/`` (format ``csv``); the child reports seconds,
resources (FHIR) or rows (CSV), bytes and peak RSS (``ru_maxrss``, the whole
process). The CSV job of the cases table is the reference: one row per
fracture, where the FHIR export writes about five resources per fracture
(Patient, Condition, Procedure, Encounters, AdverseEvents, Organizations).
No target is set by the issue; the figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
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
    write_json,
)

JOBS = {
    "fhir-ndjson": {"format": "ndjson", "kind": ""},
    "csv-cases": {"format": "csv", "kind": "cases"},
}


def child(name: str) -> None:
    """Run one export job; print one JSON line with the figures."""
    setup_django()
    from django.contrib.auth.models import User

    from complications.exports import export_job_run
    from complications.exports.fhir_bulk import read_index
    from complications.models import ExportJob
    from registry.scoping import visible_departments

    admin = User.objects.get(username=BENCH_ADMIN)
    spec = JOBS[name]
    job = ExportJob.objects.create(owner=admin, format=spec["format"], kind=spec["kind"])
    job.departments.set(visible_departments(admin))
    rss_before = maxrss_mb()
    start = time.perf_counter()
    job = export_job_run(job_id=job.pk)
    seconds = time.perf_counter() - start
    assert job.status == ExportJob.Status.DONE, job.error
    path = Path(job.file.path)
    with open(path, "rb") as handle:
        if spec["format"] == "ndjson":
            index, _start = read_index(handle)
            records = sum(count for _offset, _length, count in index.values())
            by_type = {name: count for name, (_o, _l, count) in index.items()}
        else:
            records = sum(1 for _line in handle) - 1
            by_type = {}
    size = path.stat().st_size
    path.unlink()
    job.delete()
    print(
        json.dumps(
            {
                "records": records,
                "by_type": by_type,
                "seconds": seconds,
                "bytes": size,
                "rss_before_mb": rss_before,
                "peak_rss_mb": maxrss_mb(),
            }
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="FHIR Bulk Data export vs CSV export (jobs).")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--jobs", default=",".join(JOBS))
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    setup_django()
    n_fractures = fractures_in_db()
    results: list[dict[str, Any]] = []
    for name in args.jobs.split(","):
        runs = [run_child(["bench/bench_fhir_bulk.py", "--child", name]) for _ in range(args.runs)]
        seconds = p50([r["seconds"] for r in runs])
        results.append(
            {
                "job": name,
                "runs": args.runs,
                "records": runs[0]["records"],
                "by_type": runs[0]["by_type"],
                "seconds": round(seconds, 1),
                "records_per_s": round(runs[0]["records"] / seconds),
                "fractures_per_s": round(n_fractures / seconds),
                "mb": round(runs[0]["bytes"] / 2**20, 1),
                "mb_per_s": round(runs[0]["bytes"] / 2**20 / seconds, 1),
                "rss_before_mb": round(runs[0]["rss_before_mb"], 1),
                "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs), 1),
            }
        )
        print(f"  {name}: {seconds:.1f} s, {runs[0]['records']:,} records", flush=True)
    print_table(
        f"FHIR Bulk Data (NDJSON) vs CSV export jobs, {n_fractures:,} fractures, "
        f"p50 of {args.runs}",
        [
            "job",
            "records",
            "s",
            "records/s",
            "fractures/s",
            "MB",
            "MB/s",
            "RSS start MB",
            "peak RSS MB",
        ],
        [
            [
                r["job"],
                f"{r['records']:,}",
                r["seconds"],
                f"{r['records_per_s']:,}",
                f"{r['fractures_per_s']:,}",
                r["mb"],
                r["mb_per_s"],
                r["rss_before_mb"],
                r["peak_rss_mb"],
            ]
            for r in results
        ],
    )
    for r in results:
        if r["by_type"]:
            print(f"  {r['job']} by type: {r['by_type']}")
    write_json(
        args.out or f"fhir_bulk_{n_fractures}", {"fractures": n_fractures, "results": results}
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
