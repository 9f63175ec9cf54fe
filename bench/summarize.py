"""Benchmark (e): how each figure grows from 10k to 100k to 1M fractures.

    .venv/bin/python bench/summarize.py > bench/out/summary.md

Reads ``bench/out/{generate,rates,export,record,live}_<fractures>.json`` (as
written by the other scripts) and prints Markdown tables, the ones quoted in
docs/benchmarks.md. No database needed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out"


def _load(kind: str) -> dict[int, dict[str, Any]]:
    found = {}
    for path in OUT.glob(f"{kind}_*.json"):
        suffix = path.stem.removeprefix(f"{kind}_")
        if suffix.isdigit():
            found[int(suffix)] = json.loads(path.read_text())
    return dict(sorted(found.items()))


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _ok(value: bool | None) -> str:
    return "n/a" if value is None else ("pass" if value else "**miss**")


def main() -> int:
    generate, rates, export = _load("generate"), _load("rates"), _load("export")
    record, live = _load("record"), _load("live")
    if generate:
        print("### Generation\n")
        print(
            _table(
                [
                    "fractures",
                    "rows",
                    "generate s",
                    "COPY s",
                    "ANALYZE s",
                    "outcome summary s",
                    "total s",
                ],
                [
                    [
                        f"{n:,}",
                        f"{sum(g['rows'].values()):,}",
                        g["generate_s"],
                        g["load_s"],
                        g["analyze_s"],
                        g.get("summary_s", "-"),
                        g["total_s"],
                    ]
                    for n, g in generate.items()
                ],
            )
        )
    if rates:
        print("\n### (a) rates selector vs hand-written SQL\n")
        print(
            _table(
                [
                    "fractures",
                    "selection",
                    "unit",
                    "queries",
                    "selector p50 ms",
                    "p95 ms",
                    "SQL p50 ms",
                    "ratio",
                    "<= 1.3x",
                    "p50 < 150 ms",
                    "same numbers",
                ],
                [
                    [
                        f"{n:,}",
                        r["scenario"],
                        r["unit"],
                        r["queries"],
                        r["selector_p50_ms"],
                        r["selector_p95_ms"],
                        r["sql_p50_ms"],
                        f"{r['ratio']:.2f}x",
                        _ok(r["ratio_ok"]),
                        _ok(r["p50_ok"]),
                        "yes" if r["same_numbers"] else "**NO**",
                    ]
                    for n, data in rates.items()
                    for r in data["results"]
                ],
            )
        )
    if export:
        print("\n### (b) streamed CSV export vs COPY TO STDOUT\n")
        print(
            _table(
                [
                    "fractures",
                    "export",
                    "rows",
                    "export rows/s",
                    "COPY rows/s",
                    "share",
                    ">= 0.5",
                    "peak RSS MB",
                    "< 150 MB",
                ],
                [
                    [
                        f"{n:,}",
                        r["kind"],
                        f"{r['rows']:,}",
                        f"{r['export_rows_per_s']:,}",
                        f"{r['copy_rows_per_s']:,}",
                        f"{r['share_of_copy']:.2f}",
                        _ok(r["rate_ok"]),
                        r["peak_rss_mb"],
                        _ok(r["memory_ok"]),
                    ]
                    for n, data in export.items()
                    for r in data["results"]
                ],
            )
        )
    if record:
        print("\n### (c) recording a complication\n")
        print(
            _table(
                ["fractures", "path", "queries/write", "p50 ms", "p95 ms", "p50 < 25 ms"],
                [
                    [f"{n:,}", r["path"], r["queries"], r["p50_ms"], r["p95_ms"], _ok(r["ok"])]
                    for n, data in record.items()
                    for r in data["results"]
                ],
            )
        )
    if live:
        print("\n### (d) write -> dashboard\n")
        print(
            _table(
                [
                    "fractures",
                    "writes",
                    "notice p50 s",
                    "recompute p50 s",
                    "visible p50 s",
                    "visible max s",
                    "< 1 s",
                ],
                [
                    [
                        f"{n:,}",
                        d["writes"],
                        d["notice_p50_s"],
                        d["recompute_p50_s"],
                        d["visible_p50_s"],
                        d["visible_max_s"],
                        _ok(d["ok"]),
                    ]
                    for n, d in live.items()
                ],
            )
        )
    sizes = sorted(set(rates) | set(export) | set(record) | set(live))
    if sizes:
        print("\n### (e) growth from size to size\n")

        def rate(n: int, scenario: str, unit: str) -> Any:
            for r in rates.get(n, {}).get("results", []):
                if r["scenario"] == scenario and r["unit"] == unit:
                    return r["selector_p50_ms"]
            return None

        def exported(n: int, kind: str) -> Any:
            for r in export.get(n, {}).get("results", []):
                if r["kind"] == kind:
                    return r["export_rows_per_s"]
            return None

        def recorded(n: int, path: str) -> Any:
            for r in record.get(n, {}).get("results", []):
                if r["path"] == path:
                    return r["p50_ms"]
            return None

        figures = [
            ("rates p50 ms, whole registry, fracture", lambda n: rate(n, "whole", "fracture")),
            ("rates p50 ms, whole registry, patient", lambda n: rate(n, "whole", "patient")),
            (
                "rates p50 ms, one department 5 years, fracture",
                lambda n: rate(n, "filtered", "fracture"),
            ),
            ("rates p50 ms, dates inside months, fracture", lambda n: rate(n, "days", "fracture")),
            ("rates p50 ms, pathological only, fracture", lambda n: rate(n, "typed", "fracture")),
            ("CSV export rows/s, cases", lambda n: exported(n, "cases")),
            ("CSV export rows/s, complications", lambda n: exported(n, "complications")),
            ("record a complication p50 ms, API", lambda n: recorded(n, "api")),
            ("write -> dashboard p50 s", lambda n: live.get(n, {}).get("visible_p50_s")),
        ]
        rows = []
        for name, value in figures:
            values = [value(n) for n in sizes]
            first, last = values[0], values[-1]
            growth = f"{last / first:.1f}x" if first and last else ""
            rows.append([name, *["-" if v is None else v for v in values], growth])
        data_growth = f"{sizes[-1] / sizes[0]:.0f}x data" if len(sizes) > 1 else ""
        print(_table(["figure", *[f"{n:,}" for n in sizes], data_growth], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
