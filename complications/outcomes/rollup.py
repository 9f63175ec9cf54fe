"""The monthly and yearly rollups of the summary: their querysets and their recomputation."""

from __future__ import annotations

from datetime import date
from functools import cache, partial
from typing import Any

from django.db import models
from django.db.models import Count, Q, QuerySet, Sum, Value
from django.db.models.functions import TruncMonth, TruncYear

from complications.counting import AT_RISK, is_major
from complications.ctcae import GRADES
from complications.models import (
    FractureOutcome,
    FractureTermOutcome,
    OutcomeMonth,
    OutcomeTermMonth,
    ProcedureOutcome,
    ProcedureTermOutcome,
    Window,
)
from complications.outcomes.layout import KEYS, MONTH, YEAR, next_month
from complications.outcomes.locks import lock_periods
from complications.outcomes.statements import execute, insert_from, prepared, table_name


def _month(path: str = "started_on") -> TruncMonth:
    """The month of the procedure's local start date (its department's time zone),
    as its first day."""
    return TruncMonth(path, output_field=models.DateField())


def _bounds(pairs: list[tuple[int, date]]) -> list[Any]:
    """(department, month) pairs as flat (department, first day, next month's) values."""
    return [
        value
        for department_id, month in pairs
        for value in (department_id, month, next_month(month))
    ]


def _in_months(bounds: list[Any]) -> Q:
    condition = Q(pk__in=[])
    for i in range(0, len(bounds), 3):
        department_id, start, stop = bounds[i : i + 3]
        condition |= Q(department_id=department_id, started_on__gte=start, started_on__lt=stop)
    return condition


def _month_rows(model: type[models.Model], unit: str, bounds: list[Any] | None) -> QuerySet[Any]:
    rows = model._default_manager.all()
    if bounds is not None:
        rows = rows.filter(_in_months(bounds))
    counts = {
        "units": Count("pk"),
        "at_risk_early": Count("pk", filter=AT_RISK[Window.EARLY.value]),
        "at_risk_delayed": Count("pk", filter=AT_RISK[Window.DELAYED.value]),
        **{
            f"{window}_{k}": Count("pk", filter=Q(**{f"grade_{window}__gte": k}))
            for window in Window.values
            for k in GRADES
        },
    }
    return (
        rows.annotate(month_=_month())
        .values("department_id", "month_")
        .annotate(unit_=Value(unit), period_=Value(MONTH), **counts)
        .order_by()
    )


def _term_month_rows(
    model: type[models.Model], unit: str, bounds: list[Any] | None
) -> QuerySet[Any]:
    # One summary row per (unit, window, term and event) and per (unit, window, SOC):
    # counting rows counts units.
    rows = model._default_manager.all()
    if bounds is not None:
        rows = rows.filter(_in_months(bounds))
    return (
        rows.annotate(month_=_month())
        .values("department_id", "month_", "window", "term_id", "pigsf_event", "soc")
        .annotate(
            unit_=Value(unit),
            period_=Value(MONTH),
            events=Count("pk"),
            major=Count("pk", filter=is_major()),
        )
        .order_by()
    )


_MONTH_COLUMNS = [
    ("period", "period_"),
    ("unit", "unit_"),
    ("department_id", "department_id"),
    ("month", "month_"),
    ("units", "units"),
    ("at_risk_early", "at_risk_early"),
    ("at_risk_delayed", "at_risk_delayed"),
    *[(f"{w}_{k}", f"{w}_{k}") for w in Window.values for k in GRADES],
]
_TERM_MONTH_COLUMNS = [
    ("period", "period_"),
    ("unit", "unit_"),
    ("department_id", "department_id"),
    ("month", "month_"),
    ("window", "window"),
    ("term_id", "term_id"),
    ("pigsf_event", "pigsf_event"),
    ("soc", "soc"),
    ("events", "events"),
    ("major", "major"),
]
MONTH_TABLES: list[tuple[type[models.Model], list[tuple[Any, list[tuple[str, str]]]]]] = [
    (
        OutcomeMonth,
        [
            (partial(_month_rows, FractureOutcome, "fracture"), _MONTH_COLUMNS),
            (partial(_month_rows, ProcedureOutcome, "procedure"), _MONTH_COLUMNS),
        ],
    ),
    (
        OutcomeTermMonth,
        [
            (partial(_term_month_rows, FractureTermOutcome, "fracture"), _TERM_MONTH_COLUMNS),
            (partial(_term_month_rows, ProcedureTermOutcome, "procedure"), _TERM_MONTH_COLUMNS),
        ],
    ),
]


def months_of(procedures: QuerySet[Any], department: str) -> set[tuple[int, date]]:
    return set(
        procedures.annotate(month_=_month()).values_list(department, "month_").distinct().order_by()
    )


def _year_rows(
    model: type[models.Model], years: list[Any] | None
) -> tuple[QuerySet[Any], list[tuple[str, str]]]:
    """A year's rollup rows, the sums of its month rows (every count adds up),
    and the columns they fill. ``years``: flat (department, January 1st, the
    next January 1st) values."""
    rows = model._default_manager.filter(period=MONTH)
    if years is not None:
        condition = Q(pk__in=[])
        for i in range(0, len(years), 3):
            department_id, first, stop = years[i : i + 3]
            condition |= Q(department_id=department_id, month__gte=first, month__lt=stop)
        rows = rows.filter(condition)
    fields = [f.attname for f in model._meta.concrete_fields if f.attname not in ("id", "period")]
    keys = [name for name in fields if name in KEYS]
    counts = [name for name in fields if name not in (*KEYS, "month")]
    grouped = (
        rows.values(*keys)
        .annotate(
            period_=Value(YEAR),
            month_=TruncYear("month", output_field=models.DateField()),
            **{f"{name}_": Sum(name) for name in counts},
        )
        .order_by()
    )
    columns = [
        ("period", "period_"),
        *[(name, name) for name in keys],
        ("month", "month_"),
        *[(name, f"{name}_") for name in counts],
    ]
    return grouped, columns


@cache
def _year_columns(model: type[models.Model]) -> list[tuple[str, str]]:
    return _year_rows(model, None)[1]


def replace_months(pairs: list[tuple[int, date]] | None) -> None:
    """Recompute the rollup rows of these (department, month) pairs and of their
    years (everything when ``pairs`` is None)."""
    if pairs is not None and not pairs:
        return
    years = None if pairs is None else sorted({(d, date(m.year, 1, 1)) for d, m in pairs})
    bounds = None if pairs is None else _bounds(pairs)
    year_bounds = (
        None if years is None else [v for d, y in years for v in (d, y, date(y.year + 1, 1, 1))]
    )
    if pairs is not None:
        lock_periods(pairs)
    for model, producers in MONTH_TABLES:
        if pairs is None or years is None:
            execute(f"DELETE FROM {table_name(model)}", [])
        else:
            arms = [(MONTH, d, m) for d, m in pairs] + [(YEAR, d, y) for d, y in years]
            execute(
                f"DELETE FROM {table_name(model)} WHERE "
                + " OR ".join(["(period = %s AND department_id = %s AND month = %s)"] * len(arms)),
                [
                    prepared(kind, v)
                    for arm in arms
                    for kind, v in zip(("text", "id", "date"), arm, strict=True)
                ],
            )
        insert_from(
            f"{model.__name__}.months",
            model,
            lambda b, producers=producers: [rows(b) for rows, _ in producers],
            producers[0][1],
            bounds,
            ("id", "date", "date"),
        )
        insert_from(
            f"{model.__name__}.year",
            model,
            lambda b, model=model: _year_rows(model, b)[0],
            _year_columns(model),
            year_bounds,
            ("id", "date", "date"),
        )


# --- statements compiled once -------------------------------------------------------
#
# A write refreshes a few rows with a dozen INSERT ... SELECT statements that the ORM
# builds from the querysets above; building and compiling them took most of a
# write's time (about 0.2 s of Python). Their SQL depends only on the database and
