"""The analysis options' cost: each export written to a file, with the default options and
with every option on (labels, flattened facts, shifted dates, operator pseudonyms, the
European CSV dialect, typed XLSX dates), and the Stata and SPSS files.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_bench \\
        .venv/bin/python bench/generate.py --fractures 20000 --seed 1
    for i in 0 1 2 3 4 5 6 7; do DATABASE_URL=... .venv/bin/python bench/bench_export_options.py $i; done

One export per interpreter (``ru_maxrss`` is the process's peak): a job's file path
(the Python path, as a background job writes it), rows per second and peak memory.
"""

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry.settings")
import django

django.setup()
from django.contrib.auth import get_user_model
from complications import exports

user = get_user_model().objects.filter(is_superuser=True).first()
ALL = exports.ExportOptions(
    labels=True,
    flatten_facts=True,
    dates="shifted",
    operators="pseudonyms",
    dialect="excel_eu",
    real_dates=True,
)
cases = [
    ("csv", "cases", exports.ExportOptions()),
    ("csv", "cases", ALL),
    ("csv", "complications", exports.ExportOptions()),
    ("csv", "complications", ALL),
    ("xlsx", "", exports.ExportOptions()),
    ("xlsx", "", ALL),
    ("dta", "cases", ALL),
    ("sav", "complications", ALL),
]
only = sys.argv[1:]
for i, (fmt, kind, opt) in enumerate(cases):
    if only and str(i) not in only:
        continue
    sel = exports.Selection.for_user(user, {}, options=opt)
    ex = exports.exporter_class(fmt)(sel, kind=kind)
    path = Path(tempfile.mkdtemp()) / f"x.{ex.extension}"
    t = time.perf_counter()
    ex.write(path)
    dt = time.perf_counter() - t
    n = ex.count()
    print(
        f"{fmt:5} {kind or 'both':13} {'all options' if opt != exports.ExportOptions() else 'default':11} rows={n:6} {dt:6.2f} s {n / dt:8.0f} rows/s size={path.stat().st_size / 1e6:.1f} MB maxrss={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB",
        flush=True,
    )
