"""The cases and complications CSV tables, formatted by PostgreSQL.

``SqlCsvExporter``, the CSV exporter's variant that the registry picks on
PostgreSQL, streams the downloads this way; elsewhere (SQLite), and for the
files of background jobs (which tick once per row for their progress), the
Python path of ``complications.exports.csv`` stays. Both produce the same bytes:
the tests compare them on a varied registry (``tests/api/test_export_csv_sql.py``).

Why
---
The Python path formats about 25 cells per row through ``isinstance`` chains
and ``csv.writer`` and computes the cases' evidence with correlated
per-fracture subqueries: 12-24 % of the rows per second of ``COPY (...) TO
STDOUT`` at 1M fractures (docs/benchmarks.md, (b)). Here each table is one
set-based query: the selection (the statistics' own, compiled by the ORM, so
scoping, filters and a job's departments are those of the Python path), the
per-fracture evidence and the per-complication fracture ids aggregated once in
grouped subqueries joined to it, and every cell formatted in SQL into one
finished CSV line per row. Python only joins the lines of a batch.

How it streams
--------------
A server-side cursor (``connection.chunked_cursor()``, a psycopg2 named cursor)
inside a transaction on the request's own connection, fetched ``BATCH`` lines
at a time; each batch is joined into one chunk and yielded. Memory is bounded
by one batch. Inside a transaction the cursor is declared without ``WITH
HOLD``, so PostgreSQL sends the first rows as soon as the sort is done instead
of first materializing the whole result (what Django's ``.iterator()`` does in
autocommit mode). The transaction is the generator's: a client that goes away
closes the generator, which rolls it back and closes the cursor; an error
mid-stream propagates out of the generator the same way. Nothing waits on a
thread or a queue, so nothing can hang.

Measured against the alternative the issue suggested, ``COPY (the same
one-column query) TO STDOUT`` run by ``copy_expert`` in a thread feeding a
bounded queue (``bench/export_transport.py``, the cases table, same bytes):
the cursor took 35 s against 45 s at 1M fractures, 4.0 s against 5.2 s at
100k. COPY's text format escapes the CR and LF of the finished lines, which
Python must then undo, and its CSV format cannot give the Python path's bytes
at all (it ends lines with ``\\n`` where ``csv.writer`` writes ``\\r\\n``, and
quotes an empty string); the thread also needs a connection of its own, which
cannot see an uncommitted transaction's rows (a test's, or a request's).
With ``DISABLE_SERVER_SIDE_CURSORS`` (a transaction-pooling PgBouncer) the
cursor is a client-side one and the whole result is held in memory.

The evidence of the cases is aggregated in materialized CTEs, computed once:
as plain subqueries the planner may put them under a parallel Gather, where
each worker aggregates the whole registry again.

Formatting rules (those of ``exports.csv.csv_cell`` and ``csv.writer``'s default
dialect)
--------------------------------------------------------------------------
- text: behind a ``'`` when it begins like a formula (``registry.spreadsheets``),
  then as is, or quoted with doubled quotes when it holds ``,`` ``"`` CR or LF;
  empty and NULL are both an empty cell;
- integers: decimal; booleans: ``true``/``false``; NULL: empty;
- datetimes: ISO 8601 in the department's zone with its offset, as
  ``datetime.isoformat()``: microseconds only when not zero, the offset's
  seconds only when not zero (local mean times before 1900);
- dates: ``YYYY-MM-DD``;
- the float ``hours_after_end``: Python's ``repr`` (``24.0``, ``1e-05``);
  PostgreSQL's shortest float output gives the same digits, and the cases where
  the notation differs (whole numbers, 1e15 to 1e16, NaN and infinities) are
  rewritten;
- ``facts`` (JSON): ``json.dumps(sort_keys=True, ensure_ascii=False)``. A flat
  object of strings, booleans, nulls and numbers whose text Python would write
  back unchanged (every value the facts validation accepts) is rebuilt in SQL
  with its keys in code point order (``jsonb`` orders them by length); any other
  value (nested, exotic numbers, not an object) comes back as its JSON text and
  that one cell is formatted by the Python path's own code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections, transaction
from django.db.models import QuerySet

from complications.counting import (
    sql_contact_after_end,
    sql_contact_beyond_24h,
    sql_highest_grade,
    sql_severity,
)
from complications.ctcae.pigsf import PIGSF_EVENTS, specify_forms
from complications.exports.base import register
from complications.exports.csv import CsvExporter, csv_cell, header
from complications.exports.selection import Selection
from complications.exports.tables import CHUNK, TABLES, WINDOWS
from registry import spreadsheets

BATCH = CHUNK  # lines per fetch and per yielded chunk (about 400 kB)
NEEDS_QUOTES = r"""E'[",\r\n]'"""  # the characters for which csv.writer quotes a field


# --- cell formatters: SQL expressions that give the cell's text ('' for NULL) ---------


# ``registry.spreadsheets``' rule: text a spreadsheet would take for a formula gets a "'".
_FORMULA_TRIGGERS = ", ".join(f"chr({ord(c)})" for c in spreadsheets.FORMULA_TRIGGERS)
_TEXT_PREFIX = "'" + spreadsheets.TEXT_PREFIX.replace("'", "''") + "'"


def _text(expr: str) -> str:
    # Neither the prefix nor a trigger is a '"': the prefix goes inside the quotes unchanged.
    prefix = f"CASE WHEN left({expr}, 1) IN ({_FORMULA_TRIGGERS}) THEN {_TEXT_PREFIX} ELSE '' END"
    return (
        f"CASE WHEN {expr} ~ {NEEDS_QUOTES}"
        f" THEN '\"' || {prefix} || replace({expr}, '\"', '\"\"') || '\"' "
        f"ELSE {prefix} || coalesce({expr}, '') END"
    )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _pigsf_event(term: str, specify: str) -> str:
    """The screw-fixation event's export code, by the vocabulary's rule (`specify_forms`)."""
    branches = []
    for event in PIGSF_EVENTS:
        whole, prefix = specify_forms(event)
        branches.append(
            f"WHEN {term} = {_literal(event.term)} AND (lower({specify}) = {_literal(whole.lower())}"
            f" OR left(lower({specify}), {len(prefix)}) = {_literal(prefix.lower())})"
            f" THEN {_literal(event.code)}"
        )
    return f"CASE {' '.join(branches)} ELSE '' END"


def _int(expr: str) -> str:
    return f"coalesce({expr}::text, '')"


def _bool(expr: str) -> str:
    return f"CASE WHEN {expr} THEN 'true' WHEN NOT {expr} THEN 'false' ELSE '' END"


def _date(expr: str) -> str:
    return f"coalesce(to_char({expr}, 'YYYY-MM-DD'), '')"


def _datetime(expr: str, zone: str) -> str:
    """``expr`` (timestamptz) as ``datetime.astimezone(zone).isoformat()``."""
    local = f"({expr} AT TIME ZONE {zone})"
    offset = f"({local} - ({expr} AT TIME ZONE 'UTC'))"
    return (
        f"coalesce(to_char({local}, 'YYYY-MM-DD\"T\"HH24:MI:SS')"
        f" || CASE WHEN date_trunc('second', {expr}) = {expr} THEN '' ELSE to_char({local}, '.US') END"
        f" || CASE WHEN {offset} < interval '0' THEN to_char(-{offset}, '-HH24:MI')"
        f" || CASE WHEN date_part('second', {offset}) = 0 THEN '' ELSE to_char(-{offset}, ':SS') END"
        f" ELSE to_char({offset}, '+HH24:MI')"
        f" || CASE WHEN date_part('second', {offset}) = 0 THEN '' ELSE to_char({offset}, ':SS') END"
        " END"
        ", '')"
    )


def _float(expr: str) -> str:
    """``repr(float)``: positional from 1e-4 to 1e16 with at least one decimal,
    exponent (``1e-05``, ``1e+16``) outside; PostgreSQL switches at 1e15 and
    writes whole numbers without ``.0``."""
    mantissa = f"split_part({expr}::text, 'e', 1)"
    digits = f"replace(replace({mantissa}, '.', ''), '-', '')"
    return (
        f"CASE WHEN {expr} IS NULL THEN ''"
        f" WHEN {expr} = 'NaN'::float8 THEN 'nan'"
        f" WHEN {expr} = 'Infinity'::float8 THEN 'inf'"
        f" WHEN {expr} = '-Infinity'::float8 THEN '-inf'"
        f" WHEN @{expr} >= 1e16 OR {expr} = 0 OR @{expr} >= 1e-4 AND @{expr} < 1e15 THEN"
        f"  CASE WHEN {expr} = trunc({expr}) AND @{expr} < 1e16 THEN {expr}::text || '.0'"
        f"  ELSE {expr}::text END"
        f" WHEN @{expr} < 1e-4 THEN {expr}::text"
        # 1e15 <= |x| < 1e16: PostgreSQL writes d.ddd...e+15, Python 16 digits, a point, the rest
        f" ELSE CASE WHEN {expr} < 0 THEN '-' ELSE '' END"
        f"  || rpad(left({digits}, 16), 16, '0') || '.'"
        f"  || CASE WHEN length({digits}) > 16 THEN substr({digits}, 17) ELSE '0' END"
        " END"
    )


_INTEGER = "'^-?(0|[1-9][0-9]*)$'"
_DECIMAL = "'^-?(0|[1-9][0-9]*)[.]([0-9]*[1-9]|0)$'"


def _facts(expr: str) -> str:
    """The cell when SQL can write it; otherwise ``\\x01`` and the JSON text, for Python
    (a cell SQL writes starts with ``{`` or ``"``)."""
    number = (
        f"(v::text ~ {_INTEGER} AND v::text <> '-0'"
        f" OR v::text ~ {_DECIMAL} AND v::text !~ '^-?0[.]0000'"
        " AND length(ltrim(replace(replace(v::text, '-', ''), '.', ''), '0')) <= 15)"
    )
    value = f"(jsonb_typeof(v) IN ('string', 'boolean', 'null') OR jsonb_typeof(v) = 'number' AND {number})"
    # A non-empty object always holds quotes, so its cell is always quoted.
    rebuilt = (
        f"(SELECT CASE WHEN bool_and({value}) IS NOT FALSE THEN"
        " coalesce('\"{' || string_agg(replace(to_json(k)::text || ': ' || v::text, '\"', '\"\"'),"
        " ', ' ORDER BY k COLLATE \"C\") || '}\"', '{}') END"
        f" FROM jsonb_each({expr}) AS j(k, v))"
    )
    cell = f"CASE WHEN jsonb_typeof({expr}) = 'object' THEN {rebuilt} END"
    return f"coalesce({cell}, E'\\x01' || {expr}::text, '')"


def _line(cells: list[str]) -> str:
    return " || ',' || ".join(cells) + " || E'\\r\\n'"


def _sql(queryset: QuerySet[Any], using: str) -> tuple[str, tuple[Any, ...]] | None:
    """The queryset's SQL and parameters; None when it selects nothing by construction."""
    try:
        sql, params = queryset.query.get_compiler(using=using).as_sql()
    except EmptyResultSet:
        return None
    return sql, tuple(params)


def _restricted(queryset: QuerySet[Any]) -> bool:
    return bool(queryset.query.where)


# --- the cases table -----------------------------------------------------------------


def _cases_query(selection: Selection, using: str) -> tuple[str, tuple[Any, ...]] | None:
    fractures = selection.fractures().order_by().values("pk")
    compiled = _sql(fractures, using)
    if compiled is None:
        return None
    selected_sql, params = compiled
    zone = "d.time_zone"
    started = "p.started_on"  # the local start date (registry.models.local_date)
    age = (
        f"date_part('year', {started})::int - date_part('year', pa.birth_date)::int"
        f" - CASE WHEN (date_part('month', {started}), date_part('day', {started}))"
        " < (date_part('month', pa.birth_date), date_part('day', pa.birth_date)) THEN 1 ELSE 0 END"
    )
    cells = {
        "fracture_id": _int("f.id"),
        "procedure_id": _int("f.procedure_id"),
        "patient_id": _int("p.patient_id"),
        "registry_id": _text("pa.registry_id"),
        "department": _text("d.code"),
        "sex": _text("pa.sex"),
        "age_at_procedure": f"({age})::text",
        "procedure_started_at": _datetime("p.started_at", zone),
        "procedure_ended_at": _datetime("p.ended_at", zone),
        "guidance": _text("p.guidance"),
        "anesthesia": _text("p.anesthesia"),
        "operator": _text("p.operator"),
        "fracture_type": _text("f.type"),
        "site": _text("f.site"),
        "side": _text("f.side"),
        "aetiology": _text("f.aetiology"),
        "screws": _int("f.screws"),
        "cement_augmented": _bool("f.cement_augmented"),
        "contact_after_end": _bool("coalesce(fu.after_end, false)"),
        "contact_beyond_24h": _bool("coalesce(fu.beyond_24h, false)"),
    }
    for i, window in enumerate(WINDOWS):
        cells[f"{window}_complication"] = _bool(f"ev.g{i} IS NOT NULL")
        cells[f"{window}_max_grade"] = _int(f"ev.g{i}")
    highest = ", ".join(
        sql_highest_grade("e.grade", 'e."window"', window) + f" AS g{i}"
        for i, window in enumerate(WINDOWS)
    )
    where = f"WHERE f.id IN ({selected_sql})" if _restricted(fractures) else ""
    # The evidence is aggregated once per fracture in materialized CTEs: as subqueries the
    # planner may put them under a parallel Gather, where every worker aggregates the whole
    # registry again (2-3 times the work on the benchmark machine).
    sql = f"""
        WITH ev AS MATERIALIZED (
            SELECT cf.fracture_id, {highest}
            FROM complications_complicationevent_fractures cf
            JOIN complications_complicationevent e ON e.id = cf.complicationevent_id
            GROUP BY cf.fracture_id
        ), fu AS MATERIALIZED (
            SELECT ff.fracture_id,
                   bool_or({sql_contact_after_end("c.contact_at", "cp.ended_at")}) AS after_end,
                   bool_or({sql_contact_beyond_24h("c.contact_at", "cp.ended_at")}) AS beyond_24h
            FROM registry_followup_fractures ff
            JOIN registry_followup c ON c.id = ff.followup_id
            JOIN registry_procedure cp ON cp.id = c.procedure_id
            GROUP BY ff.fracture_id
        )
        SELECT {_line([cells[c] for c in TABLES["cases"].columns(selection)])}
        FROM registry_fracture f
        JOIN registry_procedure p ON p.id = f.procedure_id
        JOIN registry_patient pa ON pa.id = p.patient_id
        JOIN registry_department d ON d.id = pa.department_id
        LEFT JOIN ev ON ev.fracture_id = f.id
        LEFT JOIN fu ON fu.fracture_id = f.id
        {where}
        ORDER BY p.started_at, f.procedure_id, f.id
    """
    return sql, (params or None) if where else None


# --- the complications table ---------------------------------------------------------


def _complications_query(selection: Selection, using: str) -> tuple[str, tuple[Any, ...]] | None:
    fractures = selection.fractures().order_by().values("pk")
    events = selection.events().order_by().values("pk")
    compiled_fractures, compiled_events = _sql(fractures, using), _sql(events, using)
    if compiled_fractures is None or compiled_events is None:
        return None
    params: tuple[Any, ...] = ()
    link_filter = event_filter = ""
    if _restricted(fractures):
        link_filter = f"WHERE cf.fracture_id IN ({compiled_fractures[0]})"
        params += compiled_fractures[1]
    if _restricted(events):
        event_filter = f"WHERE e.id IN ({compiled_events[0]})"
        params += compiled_events[1]
    zone = "d.time_zone"
    cells = {
        "complication_id": _int("e.id"),
        "procedure_id": _int("e.procedure_id"),
        "patient_id": _int("p.patient_id"),
        "registry_id": _text("pa.registry_id"),
        "department": _text("d.code"),
        "fracture_ids": "l.ids",
        "term": _text("e.term_id"),
        "term_name": _text("t.name"),
        "soc": _text("t.soc"),
        "specify": _text("e.specify"),
        "pigsf_event": _pigsf_event("e.term_id", "e.specify"),
        "onset_at": _datetime("e.onset_at", zone),
        "onset_date": _date("e.onset_date"),
        "during_procedure": _bool("e.during_procedure"),
        "window": _text('e."window"'),
        "hours_after_end": _float("e.hours_after_end"),
        "facts": None,  # a column of its own, see below
        "auto_grade": _int("e.auto_grade"),
        "grade_override": _int("e.grade_override"),
        "grade": _int("e.grade"),
        "severity": sql_severity("e.grade"),
        "grade_rationale": _text("e.grade_rationale"),
        "outcome": _text("e.outcome"),
        "relatedness": _text("e.relatedness"),
        "cirse_grade": _int("e.cirse_grade"),
        "sir_class": _text("e.sir_class"),
    }
    columns = TABLES["complications"].columns(selection)
    split = columns.index("facts")
    # Three columns: the line up to the facts, the facts cell (or \x01 and its JSON for
    # Python), the rest of the line.
    before = " || ',' || ".join(cells[c] for c in columns[:split]) + " || ','"
    after = "',' || " + _line([cells[c] for c in columns[split + 1 :]])
    sql = f"""
        SELECT {before}, coalesce(fx.cell, ''), {after}
        FROM complications_complicationevent e
        JOIN (
            SELECT cf.complicationevent_id AS id,
                   string_agg(cf.fracture_id::text, ';' ORDER BY cf.fracture_id) AS ids
            FROM complications_complicationevent_fractures cf
            {link_filter}
            GROUP BY cf.complicationevent_id
        ) l ON l.id = e.id
        JOIN registry_procedure p ON p.id = e.procedure_id
        JOIN registry_patient pa ON pa.id = p.patient_id
        JOIN registry_department d ON d.id = pa.department_id
        JOIN complications_ctcaeterm t ON t.code = e.term_id
        LEFT JOIN (
            SELECT facts, {_facts("facts::jsonb")} AS cell
            FROM (SELECT DISTINCT facts::text AS facts FROM complications_complicationevent) x
        ) fx ON fx.facts = e.facts::text
        {event_filter}
        ORDER BY p.started_at, e.procedure_id, e.id
    """
    return sql, params or None


QUERIES = {"cases": _cases_query, "complications": _complications_query}


def _facts_cell(cell: str) -> str:
    """The facts cell: as SQL wrote it, or from the JSON SQL left to Python (after
    ``\\x01``), formatted by the Python path's own code."""
    if not cell.startswith("\x01"):
        return cell
    value = csv_cell(json.loads(cell[1:]))
    text = value if isinstance(value, str) else str(value)
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def table_csv(
    kind: str, selection: Selection, *, batch: int | None = None, using: str = "default"
) -> Iterator[str]:
    """The header, then one chunk of ``batch`` rows at a time (see the module docstring)."""
    yield header(TABLES[kind].columns(selection))
    query = QUERIES[kind](selection, using)
    if query is None:
        return
    sql, params = query
    connection = connections[using]
    with transaction.atomic(using=using), connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(batch or BATCH):
            if kind == "cases":
                yield "".join([row[0] for row in rows])
            else:
                yield "".join([head + _facts_cell(facts) + rest for head, facts, rest in rows])
            del rows


@register
class SqlCsvExporter(CsvExporter):
    """The CSV tables on PostgreSQL: a download is formatted by the database. A job's
    file is still written by the Python path, which ticks once per row."""

    vendor = "postgresql"

    def stream(self) -> Iterator[str]:
        if not self.selection.options.is_default():
            return super().stream()  # the analysis options are the Python path's
        return table_csv(self.kind, self.selection)
