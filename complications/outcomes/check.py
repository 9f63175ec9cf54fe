"""Comparing the stored summary with a recomputation (``outcomes_rebuild --check``, ``registry_verify``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.db.models import QuerySet

from complications.outcomes.layout import KEYS, YEAR
from complications.outcomes.producers import UNIT_TABLES
from complications.outcomes.rollup import MONTH_TABLES


def outcomes_differences(*, limit: int | None = 20) -> dict[str, list[dict[str, Any]]]:
    """Rows of the stored summary that differ from a recomputation, per table
    (missing, extra or changed; at most ``limit`` of each). Empty lists: exact."""
    return {
        **outcomes_unit_differences(limit=limit),
        **outcomes_month_differences(limit=limit),
    }


def outcomes_unit_differences(
    *, procedure_ids: Iterable[int] | None = None, limit: int | None = None
) -> dict[str, list[dict[str, Any]]]:
    """``outcomes_differences`` of the per-unit tables, limited to ``procedure_ids``
    (every procedure when None): one chunk of procedures at a time keeps a check of
    a large registry in bounded memory."""
    ids = None if procedure_ids is None else sorted({int(pk) for pk in procedure_ids})
    report = {}
    for model, producers in UNIT_TABLES:
        fields, expected = _recomputed(producers, ids)
        stored = model._default_manager.all()
        if ids is not None:
            stored = stored.filter(procedure_id__in=ids)
        report[model.__name__] = _compared(fields, expected, stored, limit)
    return report


def outcomes_month_differences(
    *, department_ids: Iterable[int] | None = None, limit: int | None = None
) -> dict[str, list[dict[str, Any]]]:
    """``outcomes_differences`` of the monthly and yearly rollups (of ``department_ids``,
    every department when None), recomputed from the stored per-unit rows."""
    departments = None if department_ids is None else {int(pk) for pk in department_ids}
    report = {}
    for model, producers in MONTH_TABLES:
        fields, expected = _recomputed(producers, None)
        if departments is not None:
            expected = [row for row in expected if row["department_id"] in departments]
        if "period" in fields:  # the years: the sums of their months
            years: dict[tuple[Any, ...], dict[str, Any]] = {}
            counts = [f for f in fields if f not in (*KEYS, "period", "month")]
            for row in expected:
                year = {**row, "period": YEAR, "month": date(row["month"].year, 1, 1)}
                key = tuple(year[f] for f in fields if f not in counts)
                total = years.setdefault(key, {**year, **dict.fromkeys(counts, 0)})
                for name in counts:
                    total[name] += row[name]
            expected += list(years.values())
        stored = model._default_manager.all()
        if departments is not None:
            stored = stored.filter(department_id__in=departments)
        report[model.__name__] = _compared(fields, expected, stored, limit)
    return report


def _recomputed(
    producers: list[tuple[Any, list[tuple[str, str]]]], values: list[int] | None
) -> tuple[list[str], list[dict[str, Any]]]:
    """A table's columns, and its rows as its producers compute them now."""
    fields = [column for column, _ in producers[0][1]]
    expected = [
        {column: row[name] for column, name in columns}
        for rows, columns in producers
        for row in rows(values).values(*[name for _, name in columns]).iterator()
    ]
    return fields, expected


def _compared(
    fields: list[str],
    expected: list[dict[str, Any]],
    stored: QuerySet[Any],
    limit: int | None,
) -> list[dict[str, Any]]:
    wanted = {tuple(row[f] for f in fields) for row in expected}
    kept = set(stored.values_list(*fields).iterator())
    return [
        {"missing": dict(zip(fields, row, strict=True))}
        for row in sorted(wanted - kept, key=str)[:limit]
    ] + [
        {"unexpected": dict(zip(fields, row, strict=True))}
        for row in sorted(kept - wanted, key=str)[:limit]
    ]
