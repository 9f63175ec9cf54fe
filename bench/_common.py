"""Shared plumbing of the benchmark scripts: Django set-up, timing statistics, output.

The scripts run as ``python bench/<name>.py`` from the project root, so the root
is put on ``sys.path`` here (Python only adds ``bench/``). They refuse to run on
SQLite: every figure in docs/benchmarks.md is a PostgreSQL figure, and a
silently embedded database would produce numbers that mean nothing.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BENCH_ADMIN = "bench_admin"
BENCH_MEMBER = "bench_member"
BENCH_PASSWORD = "bench-password-not-secret"


def setup_django() -> None:
    """Configure Django against DATABASE_URL, which must name PostgreSQL."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL=postgres://... (the benchmarks only make sense on PostgreSQL).")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry.settings")
    _create_database(url)
    # Benchmarks are not the place for per-request debug bookkeeping: DEBUG keeps
    # every SQL statement in connection.queries, which would grow without bound.
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-used-in-production")
    os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
    import django

    django.setup()


def _create_database(url: str) -> None:
    """Create the benchmark database when it does not exist yet (a new machine)."""
    from urllib.parse import urlsplit

    import psycopg2
    from psycopg2 import sql

    name = urlsplit(url).path.lstrip("/")
    server = url[: len(url) - len(urlsplit(url).path)] + "/postgres"
    conn = psycopg2.connect(server)
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                print(f"created database {name}", file=sys.stderr)
    finally:
        conn.close()


def delete_complications(pks: Iterable[int]) -> None:
    """Remove the complications a benchmark recorded, in bulk (the services delete
    one at a time), and bring the outcome summary back as the services would."""
    from django.db import transaction

    from complications.models import ComplicationEvent
    from complications.outcomes.refresh import outcomes_refresh

    pks = list(pks)
    with transaction.atomic():
        events = ComplicationEvent.objects.filter(pk__in=pks)
        touched = set(events.values_list("procedure_id", flat=True))
        ComplicationEvent.fractures.through.objects.filter(complicationevent_id__in=pks).delete()
        events.delete()
        outcomes_refresh(procedure_ids=touched)


def timed(fn: Callable[[], Any], runs: int, *, warmup: int = 1) -> tuple[list[float], Any]:
    """Wall times in milliseconds of ``runs`` calls after ``warmup`` untimed ones."""
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return times, result


def p50(values: Sequence[float]) -> float:
    return statistics.median(values)


def p95(values: Sequence[float]) -> float:
    """Nearest-rank 95th percentile (with few runs this is simply the slowest but one or so)."""
    ordered = sorted(values)
    rank = max(1, round(0.95 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def maxrss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fractures_in_db() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM registry_fracture")
        return int(cursor.fetchone()[0])


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    mem_kb = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {
        "nproc": os.cpu_count(),
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "postgresql": pg,
        "python": platform.python_version(),
        "cpu": _cpu_model(),
        # Other work on the machine skews every timing: record how busy it was.
        "load_average_1_5_15": [round(x, 1) for x in os.getloadavg()],
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def print_table(title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A plain fixed-width table (stdout is what docs/benchmarks.md quotes)."""
    rows = [[_cell(c) for c in row] for row in rows]
    widths = [
        max(len(str(h)), *(len(r[i]) for r in rows)) if rows else len(h)
        for i, h in enumerate(header)
    ]
    print(f"\n{title}")
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return str(value)


def write_json(name: str, data: dict[str, Any]) -> Path:
    """``bench/out/<name>.json``, with the machine it was measured on."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.json"
    data = {
        "machine": machine(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **data,
    }
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    print(f"\nwrote {path.relative_to(ROOT)}")
    return path


def run_child(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run a bench script in a fresh interpreter and return the JSON it prints last.

    Used where peak memory is measured: ru_maxrss is a high-water mark for the
    whole process, so each measured thing gets a process of its own.
    """
    completed = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])
