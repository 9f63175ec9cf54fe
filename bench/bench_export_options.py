"""The analysis options' cost: each export written to a file, with the default options and
with every option on (labels, flattened facts, shifted dates, operator pseudonyms, the
European CSV dialect, typed XLSX dates), and the Stata and SPSS files.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_bench \\
        .venv/bin/python bench/generate.py --fractures 20000 --seed 1
    for i in 0 1 2 3 4 5 6 7; do DATABASE_URL=... .venv/bin/python bench/bench_export_options.py $i; done

One export per interpreter (``ru_maxrss`` is the process's peak): a job's file path
(the Python path, as a background job writes it), rows per second and peak memory.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import setup_django  # noqa: E402


def main(argv: list[str]) -> None:
    setup_django()
    from django.contrib.auth import get_user_model

    from complications import exports

    user = get_user_model().objects.filter(is_superuser=True).first()
    default = exports.ExportOptions()
    every = exports.ExportOptions(
        labels=True,
        flatten_facts=True,
        dates="shifted",
        operators="pseudonyms",
        dialect="excel_eu",
        real_dates=True,
    )
    cases = [
        ("csv", "cases", default),
        ("csv", "cases", every),
        ("csv", "complications", default),
        ("csv", "complications", every),
        ("xlsx", "", default),
        ("xlsx", "", every),
        ("dta", "cases", every),
        ("sav", "complications", every),
    ]
    for i, (format, kind, options) in enumerate(cases):
        if argv and str(i) not in argv:
            continue
        selection = exports.Selection.for_user(user, {}, options=options)
        exporter = exports.exporter_class(format)(selection, kind=kind)
        path = Path(tempfile.mkdtemp()) / f"export.{exporter.extension}"
        started = time.perf_counter()
        exporter.write(path)
        seconds = time.perf_counter() - started
        rows = exporter.count()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        name = "all options" if options != default else "default"
        print(
            f"{format:5} {kind or 'both':13} {name:11} rows={rows:6} {seconds:6.2f} s "
            f"{rows / seconds:8.0f} rows/s size={path.stat().st_size / 1e6:.1f} MB "
            f"maxrss={peak:.0f} MB",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
