"""Benchmark: committing an import of N fractures (with their patients, procedures,
follow-ups and complications) through the services, and the memory it takes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_imports \\
        .venv/bin/python bench/bench_import.py --fractures 10000

The generator writes a workbook in the import layout (openpyxl write-only,
seeded): one patient per procedure, 1-2 fractures per procedure (a fifth
have two), one follow-up contact per procedure (after 24 h), and a
complication on one procedure in five, spread over the three windows with
facts that grade 1-3. The import then runs, as a commit into a new empty
department, in a fresh interpreter (its peak RSS is the import's, Django
included); the child samples its RSS at every tenth of the rows so a growth
with the file shows. Target (issue 16): 100,000 fractures in under 5 minutes
on 2 cores, with memory flat.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OUT, print_table, run_child, setup_django, verdict, write_json  # noqa: E402

TARGET_SECONDS = 300
PARIS = ZoneInfo("Europe/Paris")
SITES = ["sacrum", "iliac", "acetabulum", "pubic_ramus"]
EVENTS = [  # term, onset, facts
    ("10019428", "during", {"symptoms": "mild", "intervention": "none"}),  # Hematoma, grade 1
    ("10033371", "early", {"symptoms": "moderate"}),  # Pain, grade 2
    ("10019428", "delayed", {"transfusion_units": 2, "hospitalization": True}),  # grade 3
]


def generate(path: Path, fractures: int, seed: int = 1) -> dict[str, int]:
    """A workbook in the import layout with ``fractures`` fractures."""
    from openpyxl import Workbook

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from complications.imports import layout

    rng = random.Random(seed)
    book = Workbook(write_only=True)
    sheets = {s.name: book.create_sheet(s.name) for s in layout.SHEETS}
    for spec in layout.SHEETS:
        sheets[spec.name].append(list(spec.names))
    counts = dict.fromkeys(sheets, 0)
    start = datetime(2015, 1, 5, 8, 0, tzinfo=PARIS)
    made, n = 0, 0
    while made < fractures:
        registry_id = f"B{n:07d}"
        # Instants are added in UTC: wall-clock arithmetic would make times that do
        # not exist on a daylight-saving day (and an end before its start).
        started = (start.astimezone(UTC) + timedelta(minutes=37 * n)).astimezone(PARIS)
        ended = (started.astimezone(UTC) + timedelta(minutes=rng.randint(40, 120))).astimezone(
            PARIS
        )
        when = started.isoformat()
        birth = f"{rng.randint(1925, 1960)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"

        def put(sheet: str, row: dict[str, object]) -> None:
            spec = layout.BY_NAME[sheet]
            sheets[sheet].append([row.get(c, "") for c in spec.names])
            counts[sheet] += 1

        put(
            "patients",
            {
                "registry_id": registry_id,
                "sex": rng.choice(["female", "male"]),
                "birth_date": birth,
            },
        )
        put(
            "procedures",
            {
                "registry_id": registry_id,
                "started_at": when,
                "ended_at": ended.isoformat(),
                "guidance": "ct",
                "anesthesia": "general",
                "operator": "Dr Bench",
            },
        )
        sites = rng.sample(SITES, 2 if rng.random() < 0.2 else 1)[: fractures - made]
        for site in sites:
            put(
                "fractures",
                {
                    "registry_id": registry_id,
                    "procedure_started_at": when,
                    "site": site,
                    "side": rng.choice(["left", "right"]),
                    "type": "insufficiency",
                    "screws": rng.randint(1, 3),
                    "cement_augmented": rng.choice(["yes", "no"]),
                },
            )
            made += 1
        put(
            "follow_ups",
            {
                "registry_id": registry_id,
                "procedure_started_at": when,
                "contact_at": (ended + timedelta(days=30)).isoformat(),
                "kind": "clinical",
            },
        )
        if rng.random() < 0.2:
            term, onset, facts = rng.choice(EVENTS)
            row: dict[str, object] = {
                "registry_id": registry_id,
                "procedure_started_at": when,
                "term": term,
                **facts,
            }
            if onset == "during":
                row["during_procedure"] = "true"
            elif onset == "early":
                row["onset_at"] = (
                    (ended.astimezone(UTC) + timedelta(hours=3)).astimezone(PARIS).isoformat()
                )
            else:
                row["onset_date"] = (ended + timedelta(days=5)).date().isoformat()
            put("complications", row)
        n += 1
    book.save(path)
    return counts


def child(path: str, fractures: int) -> None:
    """Import ``path`` into a new department and print what it cost (JSON, last line)."""
    setup_django()
    from _common import maxrss_mb

    from complications.imports import import_file
    from registry.services import department_create

    department = department_create(
        code=f"BENCH-IMPORT-{fractures}-{int(time.time())}", name="Bench import"
    )
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True)
    # A write-only workbook records no dimensions: count the rows.
    total_rows = sum(sum(1 for _ in book[name].iter_rows()) - 1 for name in book.sheetnames)
    book.close()
    samples: list[tuple[int, float]] = []

    class Tick:
        """Samples the peak RSS at every tenth of the rows."""

        def __init__(self) -> None:
            self.rows = 0

        def __call__(self) -> None:
            self.rows += 1
            if self.rows % max(1, total_rows // 10) == 0:
                samples.append((self.rows, round(maxrss_mb(), 1)))

    tick = Tick()
    started = time.perf_counter()
    report = import_file(
        department=department, path=Path(path), commit=True, reason="bench", tick=tick
    )
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "rows": tick.rows,
                "seconds": round(seconds, 1),
                "committed": report.committed,
                "errors": len(report.errors),
                "first_errors": report.errors[:3],
                "summary": report.summary,
                "peak_rss_mb": round(maxrss_mb(), 1),
                "rss_samples_mb": samples,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fractures", type=int, nargs="+", default=[10000])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.fractures[0])
        return
    setup_django()  # creates the database if needed; the child migrates nothing
    rows, results = [], {}
    for n in args.fractures:
        OUT.mkdir(parents=True, exist_ok=True)
        path = OUT / f"import_{n}.xlsx"
        t0 = time.perf_counter()
        counts = generate(path, n)
        generated = time.perf_counter() - t0
        result = run_child([str(Path(__file__)), "--fractures", str(n), "--child", str(path)])
        result["generated_seconds"] = round(generated, 1)
        result["file_mb"] = round(path.stat().st_size / 1e6, 1)
        result["sheets"] = counts
        results[str(n)] = result
        ok = result["committed"] and result["seconds"] * (100000 / n) <= TARGET_SECONDS
        rows.append(
            [
                n,
                result["rows"],
                result["seconds"],
                round(result["rows"] / max(result["seconds"], 0.01)),
                result["peak_rss_mb"],
                result["committed"],
                verdict(ok),
            ]
        )
        path.unlink()
    print_table(
        "Import commit (services, one transaction)",
        ["fractures", "rows", "seconds", "rows/s", "peak RSS MB", "committed", "100k in 5 min?"],
        rows,
    )
    write_json("import", {"results": results})


if __name__ == "__main__":
    main()
