"""Statements compiled once, and sent together (one round trip per refresh on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from typing import Any

from django.db import connection, models
from django.db.models import QuerySet

# with two sets of stand-in values: the parameters that differ between the two
# compilations are where the real values go.

_FIELDS: dict[str, models.Field] = {
    "id": models.BigIntegerField(),
    "datetime": models.DateTimeField(),
    "date": models.DateField(),
    "text": models.CharField(),
}
_COMPILED: dict[tuple[str, str, int], tuple[str, list[Any], list[tuple[int, int]]]] = {}
_MOST_VALUES_COMPILED_ONCE = 60  # larger batches (rebuilds, bulk clean-ups) compile each time


def prepared(kind: str, value: Any) -> Any:
    return _FIELDS[kind].get_db_prep_value(value, connection)


def _stand_ins(kinds: list[str], variant: int) -> list[Any]:
    values: list[Any] = []
    for i, kind in enumerate(kinds):
        year = 1001 + i + 500 * variant
        values.append(
            {
                "id": -(10**12) * (variant + 1) - i,
                "datetime": datetime(year, 1, 1, tzinfo=UTC),
                "date": date(year, 1, 1),
            }[kind]
        )
    return values


def table_name(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _insert_sql(
    model: type[models.Model],
    querysets: list[QuerySet[Any]],
    columns: list[tuple[str, str]],
    *,
    ordered: bool = False,
) -> tuple[str, list[Any]]:
    """``INSERT INTO <table> (<columns>) SELECT ... UNION ALL SELECT ...`` of the querysets."""
    names = [name for _, name in columns]
    quote = connection.ops.quote_name
    selects, params = [], []
    for rows in querysets:
        select, select_params = rows.values(*names).query.sql_with_params()
        selects.append(
            "SELECT {} FROM ({}) AS rows".format(", ".join(quote(n) for n in names), select)
        )
        params += select_params
    sql = "INSERT INTO {} ({}) {}".format(
        table_name(model),
        ", ".join(quote(column) for column, _ in columns),
        " UNION ALL ".join(selects),
    )
    if ordered:
        # A rebuild writes each table in (department, time) order, so that the
        # rows a month's refresh reads lie on a few pages instead of hundreds
        # (measured: 3-5x fewer milliseconds per write at 1M fractures).
        names_of = dict(columns)
        time_column = "started_on" if "started_on" in names_of else "month"
        sql += " ORDER BY {}, {}".format(
            quote(names_of["department_id"]), quote(names_of[time_column])
        )
    return sql, params


def insert_from(
    name: str,
    model: type[models.Model],
    build: Any,
    columns: list[tuple[str, str]],
    values: list[Any] | None,
    kinds: tuple[str, ...],
) -> int:
    """Insert ``build(values)``'s rows (``values`` None: no filter, everything);
    ``build`` returns one queryset or several with the same columns."""

    def built(values: list[Any] | None) -> list[QuerySet[Any]]:
        result = build(values)
        return result if isinstance(result, list) else [result]

    if values is None or len(values) > _MOST_VALUES_COMPILED_ONCE:
        return execute(*_insert_sql(model, built(values), columns, ordered=values is None))
    slot_kinds = [kinds[i % len(kinds)] for i in range(len(values))]
    key = (connection.vendor, name, len(values))
    if key not in _COMPILED:
        first, second = _stand_ins(slot_kinds, 0), _stand_ins(slot_kinds, 1)
        sql, params = _insert_sql(model, built(first), columns)
        other_sql, other_params = _insert_sql(model, built(second), columns)
        first_values = [prepared(k, v) for k, v in zip(slot_kinds, first, strict=True)]
        assert sql == other_sql and len(params) == len(other_params), name
        slots = [
            (position, first_values.index(a))
            for position, (a, b) in enumerate(zip(params, other_params, strict=True))
            if a != b
        ]
        _COMPILED[key] = (sql, params, slots)
    sql, params, slots = _COMPILED[key]
    params = list(params)
    for position, slot in slots:
        params[position] = prepared(slot_kinds[slot], values[slot])
    return execute(sql, params)


# Inside ``batched``: the statements waiting to be sent together.
_batch: ContextVar[list[tuple[str, list[Any]]] | None] = ContextVar("outcomes_batch", default=None)


def execute(sql: str, params: list[Any]) -> int:
    """Run a statement now, or, inside ``batched``, at the end of the batch."""
    batch = _batch.get()
    if batch is not None:
        batch.append((sql, params))
        return 0
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


@contextmanager
def batched() -> Iterator[None]:
    """Send a refresh's statements in one round trip on PostgreSQL (its driver
    runs several ``;``-separated statements, in order, in one call): a write
    waits for the database once instead of twenty times. SQLite's driver runs
    one statement per call, so there they go one by one."""
    batch: list[tuple[str, list[Any]]] = []
    token = _batch.set(batch)
    try:
        yield
    finally:
        _batch.reset(token)
    if not batch:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                ";\n".join(sql for sql, _ in batch), [p for _, params in batch for p in params]
            )
        else:
            for sql, params in batch:
                cursor.execute(sql, params)
