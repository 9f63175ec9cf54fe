"""Measure what settings, indexes and a per-fracture summary table gain for the rates.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_bench_idx \\
        .venv/bin/python bench/index_experiment.py --stages baseline,jit_off,vacuum,indexes

Run on a copy of the 1M registry (``createdb -T registry_bench registry_bench_idx``):
the stages change the database cumulatively (``ALTER DATABASE ... SET``,
``VACUUM``, ``CREATE INDEX``, a summary table), and each stage times
``selectors.rates`` (filtered selection, every unit, plus the whole registry
for the fracture unit with ``--whole``) on a fresh connection, so that
database-level settings apply. Models are not touched: the lead turns what
pays into ``models.Index`` definitions and migrations.

The ``summary`` stage builds ``bench_fracture_outcome``, one row per fracture
with what the rates need (selection columns, highest grade per window, contact
flags), as a trigger-free stand-in for a table the services would keep in the
same transaction as each write, and times the windows query over it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BENCH_ADMIN, BENCH_MEMBER, OUT, p50, setup_django  # noqa: E402

# The candidate indexes, as the SQL Django would emit for the models.Index
# definitions given in docs/benchmarks.md.
INDEXES = [
    # Fracture unit, max grade per window: the link probe becomes index-only.
    "CREATE INDEX IF NOT EXISTS complication_link_fracture_idx "
    "ON complications_complicationevent_fractures (fracture_id, complicationevent_id)",
    # ... and the event it finds gives window and grade without a heap visit.
    "CREATE INDEX IF NOT EXISTS complication_id_window_grade_idx "
    'ON complications_complicationevent (id) INCLUDE ("window", grade)',
    # Procedure and patient units: the highest grade of a window is the first index entry.
    "CREATE INDEX IF NOT EXISTS complication_proc_window_grade_idx "
    'ON complications_complicationevent (procedure_id, "window", grade DESC)',
    # Contacts: the covering link, and contact_at / ended_at without heap visits.
    "CREATE INDEX IF NOT EXISTS followup_link_fracture_idx "
    "ON registry_followup_fractures (fracture_id, followup_id)",
    "CREATE INDEX IF NOT EXISTS followup_id_contact_idx "
    "ON registry_followup (id) INCLUDE (procedure_id, contact_at)",
    "CREATE INDEX IF NOT EXISTS procedure_id_ended_idx "
    "ON registry_procedure (id) INCLUDE (ended_at, patient_id)",
]

SUMMARY = """
DROP TABLE IF EXISTS bench_fracture_outcome;
CREATE TABLE bench_fracture_outcome AS
WITH ev AS (
  SELECT cf.fracture_id,
         max(e.grade) FILTER (WHERE e."window" = 'per_procedural') AS max_per_procedural,
         max(e.grade) FILTER (WHERE e."window" = 'early') AS max_early,
         max(e.grade) FILTER (WHERE e."window" = 'delayed') AS max_delayed
  FROM complications_complicationevent_fractures cf
  JOIN complications_complicationevent e ON e.id = cf.complicationevent_id
  GROUP BY cf.fracture_id
), fu AS (
  SELECT ff.fracture_id,
         bool_or(c.contact_at > p.ended_at) AS contact_after_end,
         bool_or(c.contact_at > p.ended_at + interval '24 hours') AS contact_beyond_24h
  FROM registry_followup_fractures ff
  JOIN registry_followup c ON c.id = ff.followup_id
  JOIN registry_procedure p ON p.id = c.procedure_id
  GROUP BY ff.fracture_id
)
SELECT f.id AS fracture_id, f.procedure_id, p.patient_id, pa.department_id, p.started_at,
       p.guidance, f.type, f.site, ev.max_per_procedural, ev.max_early, ev.max_delayed,
       coalesce(fu.contact_after_end, false) AS contact_after_end,
       coalesce(fu.contact_beyond_24h, false) AS contact_beyond_24h
FROM registry_fracture f
JOIN registry_procedure p ON p.id = f.procedure_id
JOIN registry_patient pa ON pa.id = p.patient_id
LEFT JOIN ev ON ev.fracture_id = f.id
LEFT JOIN fu ON fu.fracture_id = f.id;
ALTER TABLE bench_fracture_outcome ADD PRIMARY KEY (fracture_id);
CREATE INDEX ON bench_fracture_outcome (department_id, started_at);
VACUUM ANALYZE bench_fracture_outcome;
"""

SUMMARY_WINDOWS = """
SELECT count(*),
       count(max_per_procedural), count(*) FILTER (WHERE max_per_procedural >= 3),
       count(*) FILTER (
         WHERE contact_after_end OR max_early IS NOT NULL OR max_delayed IS NOT NULL),
       count(max_early), count(*) FILTER (WHERE max_early >= 3),
       count(*) FILTER (WHERE contact_beyond_24h OR max_delayed IS NOT NULL),
       count(max_delayed), count(*) FILTER (WHERE max_delayed >= 3)
FROM bench_fracture_outcome o
WHERE {where}
"""
# Per procedure (patient): the unit's flags are the OR / max over its fractures'
# for what the fracture rows carry. Exact for the windows only when every
# complication and contact covers all the procedure's fractures, so the
# production table would be kept per procedure too; here it sizes the cost.
SUMMARY_GROUPED = """
SELECT count(*),
       count(m_pp), count(*) FILTER (WHERE m_pp >= 3),
       count(*) FILTER (WHERE a OR m_e IS NOT NULL OR m_d IS NOT NULL),
       count(m_e), count(*) FILTER (WHERE m_e >= 3),
       count(*) FILTER (WHERE b OR m_d IS NOT NULL), count(m_d), count(*) FILTER (WHERE m_d >= 3)
FROM (
  SELECT {key}, max(max_per_procedural) m_pp, max(max_early) m_e, max(max_delayed) m_d,
         bool_or(contact_after_end) a, bool_or(contact_beyond_24h) b
  FROM bench_fracture_outcome o WHERE {where} GROUP BY {key}
) u
"""


def _time_selector(runs: int, whole: bool) -> dict[str, float]:
    from baseline_sql import filtered_selection
    from django.contrib.auth.models import User
    from django.db import connection

    from complications.selectors import rates

    connection.close()  # a new session picks up ALTER DATABASE settings
    admin = User.objects.get(username=BENCH_ADMIN)
    member = User.objects.get(username=BENCH_MEMBER)
    results = {}
    cases: list[tuple[str, Any, dict[str, Any], str]] = [
        (f"filtered/{unit}", member, filtered_selection(), unit)
        for unit in ("fracture", "procedure", "patient")
    ]
    if whole:
        cases.append(("whole/fracture", admin, {}, "fracture"))
    for label, user, filters, unit in cases:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            rates(user=user, unit=unit, **filters)
            times.append((time.perf_counter() - start) * 1000)
        results[label] = round(p50(times))
        print(f"    {label}: {results[label]} ms", flush=True)
    return results


def _time_summary(runs: int) -> dict[str, float]:
    from django.db import connection

    member_departments = (
        "department_id IN (SELECT department_id FROM registry_department_members m "
        "JOIN auth_user u ON u.id = m.user_id WHERE u.username = 'bench_member')"
    )
    period = "started_at >= '2018-01-01 00:00+01' AND started_at < '2023-01-01 00:00+01'"
    queries = {
        "summary whole/fracture": SUMMARY_WINDOWS.format(where="TRUE"),
        "summary filtered/fracture": SUMMARY_WINDOWS.format(
            where=f"{member_departments} AND {period}"
        ),
        "summary whole/procedure": SUMMARY_GROUPED.format(key="procedure_id", where="TRUE"),
        "summary filtered/procedure": SUMMARY_GROUPED.format(
            key="procedure_id", where=f"{member_departments} AND {period}"
        ),
        "summary whole/patient": SUMMARY_GROUPED.format(key="patient_id", where="TRUE"),
    }
    results = {}
    with connection.cursor() as cursor:
        for label, sql in queries.items():
            times = []
            for _ in range(runs + 1):
                start = time.perf_counter()
                cursor.execute(sql)
                cursor.fetchall()
                times.append((time.perf_counter() - start) * 1000)
            results[label] = round(p50(times[1:]))
            print(f"    {label}: {results[label]} ms", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Gains of settings, indexes, a summary table.")
    parser.add_argument("--stages", default="baseline,jit_off,vacuum,indexes,work_mem,summary")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--whole", action="store_true", help="also the whole registry (slow)")
    args = parser.parse_args(argv)
    setup_django()
    from django.db import connection

    name = connection.settings_dict["NAME"]
    if name == "registry_bench":
        sys.exit("Run on a copy (registry_bench_idx): the stages change the database.")
    report = OUT / f"index_experiment_{name}.txt"
    OUT.mkdir(parents=True, exist_ok=True)
    with open(report, "a") as out:
        for stage in args.stages.split(","):
            print(f"stage {stage}", flush=True)
            with connection.cursor() as cursor:
                if stage == "jit_off":
                    cursor.execute(f"ALTER DATABASE {name} SET jit = off")
                elif stage == "vacuum":
                    cursor.execute("VACUUM ANALYZE")
                elif stage == "indexes":
                    for sql in INDEXES:
                        cursor.execute(sql)
                    cursor.execute("VACUUM ANALYZE")
                elif stage == "work_mem":
                    cursor.execute(f"ALTER DATABASE {name} SET work_mem = '64MB'")
                elif stage == "summary":
                    # One statement at a time: VACUUM refuses a multi-statement string.
                    for statement in filter(str.strip, SUMMARY.split(";")):
                        cursor.execute(statement)
            figures = (
                _time_summary(max(args.runs, 3))
                if stage == "summary"
                else _time_selector(args.runs, args.whole)
            )
            out.write(f"{time.strftime('%H:%M:%S')} {stage}: {figures}\n")
    print(f"appended to {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
