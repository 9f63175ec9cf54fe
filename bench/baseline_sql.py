"""The hand-written SQL that ``bench_rates`` compares the rates selector against.

One statement per (unit, selection) that returns everything ``stats.rates.rates``
returns (the three windows, by term, by SOC) as one JSON value. It is written
the way a person tuning for PostgreSQL would write it: set-based, not per
unit. The selection is computed once; the complications and the follow-up
contacts are each aggregated per unit in one hash aggregate (no correlated
subquery per unit); the by-term and by-SOC rows come from one GROUPING SETS
pass.

It follows docs/domain.md section 4 exactly as the selector does (see the
selector's module docstring for the selection): numerator = units with a
complication in the window, split by the unit's highest grade; denominators:
every unit (per-procedural), units with a contact after the end or an early or
delayed complication (early), units with a contact more than 24 h after the
end or a delayed complication (delayed).

A contact is compared with the end of the procedure it belongs to. For the
fracture unit the fracture's own procedure is used: the services refuse a
contact covering a fracture of another procedure (``resolve_fractures``), so
the two are the same procedure, and the join is one table shorter.

``bench_rates`` checks that this returns the same numbers as the selector on
every run, so a figure is never a comparison with a query that computes
something else.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

MAJOR = 3
WINDOWS = ("per_procedural", "early", "delayed")


def _selection(filters: dict[str, Any], member_of: int | None) -> tuple[str, list[Any]]:
    """WHERE clause over f (fracture), p (procedure), pa (patient)."""
    where, params = ["TRUE"], []
    if member_of is not None:
        where.append(
            "pa.department_id IN (SELECT department_id FROM registry_department_members "
            "WHERE user_id = %s)"
        )
        params.append(member_of)
    if filters.get("department") is not None:
        where.append("pa.department_id = %s")
        params.append(int(filters["department"]))
    # Procedure start dates in each department's time zone (``started_on``), inclusive.
    if filters.get("date_from") is not None:
        where.append("p.started_on >= %s")
        params.append(filters["date_from"].isoformat())
    if filters.get("date_to") is not None:
        where.append("p.started_on <= %s")
        params.append(filters["date_to"].isoformat())
    for key, column in (
        ("guidance", "p.guidance"),
        ("fracture_type", "f.type"),
        ("site", "f.site"),
    ):
        if filters.get(key):
            where.append(f"{column} = %s")
            params.append(filters[key])
    if filters.get("operator"):
        where.append("upper(p.operator::text) LIKE upper(%s)")
        params.append(
            "%" + filters["operator"].strip().replace("%", r"\%").replace("_", r"\_") + "%"
        )
    return " AND ".join(where), params


_SELECTED = """
  SELECT f.id AS fracture_id, f.procedure_id, p.patient_id, p.ended_at
  FROM registry_fracture f
  JOIN registry_procedure p ON p.id = f.procedure_id
  JOIN registry_patient pa ON pa.id = p.patient_id
  WHERE {where}
"""

# Per unit kind: (the selection's units, complication rows per unit, contacts per unit).
# Joins, not IN (...): the planner then hashes the smaller side once.
_UNIT_SQL = {
    "fracture": (
        "SELECT fracture_id AS unit FROM sel",
        """SELECT s.fracture_id AS unit, e."window", e.term_id, e.grade
           FROM complications_complicationevent_fractures cf
           JOIN complications_complicationevent e ON e.id = cf.complicationevent_id
           JOIN sel s ON s.fracture_id = cf.fracture_id""",
        """SELECT s.fracture_id AS unit, {contacts}
           FROM registry_followup_fractures ff
           JOIN registry_followup c ON c.id = ff.followup_id
           JOIN sel s ON s.fracture_id = ff.fracture_id
           GROUP BY s.fracture_id""",
    ),
    "procedure": (
        "SELECT procedure_id AS unit FROM procs",
        """SELECT e.procedure_id AS unit, e."window", e.term_id, e.grade
           FROM complications_complicationevent e
           JOIN procs s ON s.procedure_id = e.procedure_id""",
        """SELECT c.procedure_id AS unit, {contacts}
           FROM registry_followup c
           JOIN procs s ON s.procedure_id = c.procedure_id
           GROUP BY c.procedure_id""",
    ),
    "patient": (
        "SELECT DISTINCT patient_id AS unit FROM procs",
        """SELECT s.patient_id AS unit, e."window", e.term_id, e.grade
           FROM complications_complicationevent e
           JOIN procs s ON s.procedure_id = e.procedure_id""",
        """SELECT s.patient_id AS unit, {contacts}
           FROM registry_followup c
           JOIN procs s ON s.procedure_id = c.procedure_id
           GROUP BY s.patient_id""",
    ),
}
_CONTACTS = """
  bool_or(c.contact_at > s.ended_at) AS after_end,
  bool_or(c.contact_at > s.ended_at + interval '24 hours') AS beyond_24h
"""

_TEMPLATE = """
WITH sel AS MATERIALIZED ({selected}),
procs AS MATERIALIZED (
  SELECT DISTINCT procedure_id, patient_id, ended_at FROM sel WHERE {need_procs}
),
rows AS MATERIALIZED ({rows}),
ev AS (
  SELECT unit,
         max(grade) FILTER (WHERE "window" = 'per_procedural') AS g_per_procedural,
         max(grade) FILTER (WHERE "window" = 'early') AS g_early,
         max(grade) FILTER (WHERE "window" = 'delayed') AS g_delayed
  FROM rows GROUP BY unit
),
fu AS ({contacts}),
-- Only units with some evidence: a unit with neither complication nor contact
-- counts in the per-procedural denominator alone, which is count(units).
flags AS (
  SELECT ev.g_per_procedural, ev.g_early, ev.g_delayed,
         coalesce(fu.after_end, false) AS after_end, coalesce(fu.beyond_24h, false) AS beyond_24h
  FROM ev FULL JOIN fu ON fu.unit = ev.unit
),
windows AS (
  SELECT
    (SELECT count(*) FROM ({units}) u) AS per_procedural_at_risk,
    count(g_per_procedural) AS per_procedural_events,
    count(*) FILTER (WHERE g_per_procedural >= {major}) AS per_procedural_major,
    count(*) FILTER (WHERE after_end OR g_early IS NOT NULL OR g_delayed IS NOT NULL)
      AS early_at_risk,
    count(g_early) AS early_events,
    count(*) FILTER (WHERE g_early >= {major}) AS early_major,
    count(*) FILTER (WHERE beyond_24h OR g_delayed IS NOT NULL) AS delayed_at_risk,
    count(g_delayed) AS delayed_events,
    count(*) FILTER (WHERE g_delayed >= {major}) AS delayed_major
  FROM flags
),
breakdown AS (
  SELECT r."window", t.soc, r.term_id, t.name AS term_name, GROUPING(r.term_id, t.name) AS by_soc,
         count(DISTINCT r.unit) AS events,
         count(DISTINCT r.unit) FILTER (WHERE r.grade >= {major}) AS major
  FROM rows r JOIN complications_ctcaeterm t ON t.code = r.term_id
  GROUP BY GROUPING SETS ((r."window", t.soc, r.term_id, t.name), (r."window", t.soc))
)
SELECT json_build_object(
  'windows', (SELECT row_to_json(windows) FROM windows),
  'breakdown', (SELECT coalesce(json_agg(breakdown), '[]'::json) FROM breakdown)
)
"""


def rates_sql(
    unit: str,
    filters: dict[str, Any] | None = None,
    *,
    member_of: int | None = None,
) -> tuple[str, list[Any]]:
    """The statement and its parameters for ``unit`` over the selection.

    ``member_of``: a user id whose departments scope the selection (as
    ``scope_to_user`` does for a non-superuser); None for a superuser.
    """
    where, params = _selection(filters or {}, member_of)
    units, rows, contacts = _UNIT_SQL[unit]
    sql = _TEMPLATE.format(
        selected=_SELECTED.format(where=where),
        # The fracture unit never reads procs: an always-false filter keeps it empty.
        need_procs="FALSE" if unit == "fracture" else "TRUE",
        units=units,
        rows=rows,
        contacts=contacts.format(contacts=_CONTACTS),
        major=MAJOR,
    )
    return sql, params


def run(cursor: Any, sql: str, params: list[Any]) -> dict[str, Any]:
    cursor.execute(sql, params)
    value = cursor.fetchone()[0]
    return value if isinstance(value, dict) else json.loads(value)


def comparable_sql(result: dict[str, Any]) -> dict[str, Any]:
    """The SQL result in the shape ``comparable_selector`` gives the selector's."""
    w = result["windows"]
    windows = {
        name: (
            w[f"{name}_events"],
            w[f"{name}_at_risk"],
            w[f"{name}_events"] - w[f"{name}_major"],
            w[f"{name}_major"],
        )
        for name in WINDOWS
    }
    by_term, by_soc = set(), set()
    for row in result["breakdown"]:
        minor = row["events"] - row["major"]
        if row["by_soc"]:
            by_soc.add((row["window"], row["soc"], row["events"], minor, row["major"]))
        else:
            by_term.add(
                (
                    row["window"],
                    row["term_id"],
                    row["term_name"],
                    row["soc"],
                    row["events"],
                    minor,
                    row["major"],
                )
            )
    return {"windows": windows, "by_term": by_term, "by_soc": by_soc}


def comparable_selector(result: dict[str, Any]) -> dict[str, Any]:
    """``stats.rates.rates`` output reduced to its counts (rates and CIs derive from them)."""
    windows = {
        name: (v["events"], v["at_risk"], v["minor"], v["major"])
        for name, v in result["windows"].items()
    }
    by_term = {
        (r["window"], r["term"], r["term_name"], r["soc"], r["events"], r["minor"], r["major"])
        for r in result["by_term"]
    }
    by_soc = {
        (r["window"], r["soc"], r["events"], r["minor"], r["major"]) for r in result["by_soc"]
    }
    return {"windows": windows, "by_term": by_term, "by_soc": by_soc}


def filtered_selection() -> dict[str, Any]:
    """The 'filtered' dashboard selection of the benchmarks: five years of one department."""
    return {"date_from": date(2018, 1, 1), "date_to": date(2022, 12, 31)}
