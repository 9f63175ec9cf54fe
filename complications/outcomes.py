"""The outcome summary: what the rates need of each unit, kept exact at write time.

The counting rules (docs/domain.md section 4) only need, per unit, the highest grade
of its complications in each window and whether a contact was recorded after
the end and more than 24 hours after it; per (unit, window, term), the highest
grade, where a screw-fixation event recorded under an "Other, specify" term
(``ctcae.pigsf``) is a term of its own. Computing them at read time joins fractures, complications and contacts:
seconds at a million fractures. So they are kept in four narrow tables
(``FractureOutcome``, ``ProcedureOutcome`` and their per-term rows), which the
selectors scan instead.

Exactness: ``outcomes_refresh`` recomputes the rows of the given procedures
from their clinical rows, with the same statements that ``outcomes_rebuild``
runs over the whole registry (``INSERT ... SELECT`` of one queryset per table,
so the rules exist once, in the ORM, on SQLite and PostgreSQL alike). Every
service that writes a procedure, fracture, contact or complication calls it
inside its own transaction, before the commit: a reader never sees a write
without its summary, and a write that rolls back takes its summary with it.
Writes that bypass the services (raw SQL, bulk loads) must be followed by
``manage.py outcomes_rebuild``; ``outcomes_check`` (``--check``) lists any row
that differs from a recomputation.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from functools import cache, partial
from typing import Any

from django.db import connection, models, transaction
from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    Exists,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncMonth, TruncYear

from complications.ctcae import EARLY_PERIOD, GRADES, MAJOR_GRADE
from complications.models import (
    ComplicationEvent,
    FractureOutcome,
    FractureTermOutcome,
    OutcomeMonth,
    OutcomeTermMonth,
    ProcedureOutcome,
    ProcedureTermOutcome,
    Window,
)
from complications.pigsf_lookups import pigsf_event_code
from registry.models import FollowUp, Fracture, FractureType, Procedure, Site

# The early window's limit (docs/domain.md section 2), from the core that classifies onsets.
DAY = EARLY_PERIOD

# The evidence of follow-up for each window's denominator (docs/domain.md section 4),
# on a summary row: every unit during the procedure; for the early window, a
# contact after the end or a complication in the early or delayed window; for
# the delayed window, a contact more than 24 h after the end or a delayed one.
AT_RISK: dict[str, Q | None] = {
    Window.PER_PROCEDURAL.value: None,
    Window.EARLY.value: Q(contact_after_end=True) | Q(grade_early__gt=0) | Q(grade_delayed__gt=0),
    Window.DELAYED.value: Q(contact_beyond_24h=True) | Q(grade_delayed__gt=0),
}

# One bit per (fracture type, site) pair: bit = type index * len(Site) + site index.
# The order of the choices is part of the stored masks: changing the choices needs
# ``outcomes_rebuild`` (a migration that adds a choice should run it).
_PAIRS = [(t, s) for t in FractureType.values for s in Site.values]


def mask_bits(*, fracture_type: str | None = None, site: str | None = None) -> int:
    """The bits of ``fractures_mask`` that stand for the pairs matching the filters."""
    bits = 0
    for index, (t, s) in enumerate(_PAIRS):
        if (fracture_type is None or t == fracture_type) and (site is None or s == site):
            bits |= 1 << index
    return bits


def _pair_bit(type_path: str, site_path: str) -> Case:
    return Case(
        *[
            When(**{type_path: t, site_path: s}, then=Value(1 << index))
            for index, (t, s) in enumerate(_PAIRS)
        ],
        default=Value(0),
        output_field=BigIntegerField(),
    )


def _highest(path: str, window: str) -> Coalesce:
    """The highest grade of the complications at ``path`` in the window; 0 for none."""
    return Coalesce(Max(f"{path}grade", filter=Q(**{f"{path}window": window})), 0)


def _grades(path: str) -> dict[str, Coalesce]:
    return {f"grade_{window}": _highest(path, window) for window in Window.values}


def _contacts(contacts: QuerySet[FollowUp], ended_at: str) -> dict[str, Exists]:
    return {
        "contact_after_end": Exists(contacts.filter(contact_at__gt=OuterRef(ended_at))),
        "contact_beyond_24h": Exists(contacts.filter(contact_at__gt=OuterRef(ended_at) + DAY)),
    }


def _selection(procedure: str) -> dict[str, F]:
    return {
        "department_id": F(f"{procedure}patient__department_id"),
        "started_at": F(f"{procedure}started_at"),
        "started_on": F(f"{procedure}started_on"),
        "guidance": F(f"{procedure}guidance"),
        "operator": F(f"{procedure}operator"),
    }


def _fracture_rows(procedure_ids: list[int] | None) -> QuerySet[Any]:
    rows = Fracture.objects.all()
    if procedure_ids is not None:
        rows = rows.filter(procedure_id__in=procedure_ids)
    contacts = FollowUp.objects.filter(fractures=OuterRef("pk"))
    return (
        rows.values("pk")
        .annotate(
            **_selection("procedure__"),
            **_contacts(contacts, "procedure__ended_at"),
            **_grades("complications__"),
            procedure_id_=F("procedure_id"),
            patient_id=F("procedure__patient_id"),
            type_=F("type"),
            site_=F("site"),
        )
        .order_by()
    )


def _procedure_rows(procedure_ids: list[int] | None) -> QuerySet[Any]:
    rows = Procedure.objects.all()
    if procedure_ids is not None:
        rows = rows.filter(pk__in=procedure_ids)
    contacts = FollowUp.objects.filter(procedure=OuterRef("pk"))
    # The mask comes from a subquery so that the complications' join does not
    # multiply the fractures (a sum of distinct bits is their bitwise OR).
    mask = (
        Fracture.objects.filter(procedure=OuterRef("pk"))
        .order_by()
        .values("procedure")
        .annotate(mask=Sum(_pair_bit("type", "site"), distinct=True))
        .values("mask")
    )
    return (
        rows.annotate(fractures_mask=models.Subquery(mask, output_field=BigIntegerField()))
        .filter(fractures_mask__gt=0)
        .values("pk")
        .annotate(
            **_selection(""),
            **_contacts(contacts, "ended_at"),
            **_grades("complications__"),
            patient_id_=F("patient_id"),
            fractures_mask_=F("fractures_mask"),
        )
        .order_by()
    )


def _term(path: str, per_soc: bool) -> F | Value:
    """The term of a per-term row; none on a per-SOC row (grouped by SOC only)."""
    return Value(None, output_field=models.CharField()) if per_soc else F(path)


def _pigsf_event(path: str, per_soc: bool) -> Case | Value:
    """The screw-fixation event of a per-term row (part of its term: each event
    counts as a term of its own); none on a per-SOC row."""
    return Value("", output_field=models.CharField()) if per_soc else pigsf_event_code(path)


def _fracture_term_rows(procedure_ids: list[int] | None, *, per_soc: bool) -> QuerySet[Any]:
    links = ComplicationEvent.fractures.through.objects.all()
    if procedure_ids is not None:
        links = links.filter(fracture__procedure_id__in=procedure_ids)
    return (
        links.values("fracture_id")
        .annotate(
            **_selection("fracture__procedure__"),
            window=F("complicationevent__window"),
            term_id=_term("complicationevent__term_id", per_soc),
            pigsf_event=_pigsf_event("complicationevent__", per_soc),
            soc=F("complicationevent__term__soc"),
            grade=Max("complicationevent__grade"),
            procedure_id=F("fracture__procedure_id"),
            type=F("fracture__type"),
            site=F("fracture__site"),
        )
        .order_by()
    )


def _procedure_term_rows(procedure_ids: list[int] | None, *, per_soc: bool) -> QuerySet[Any]:
    events = ComplicationEvent.objects.all()
    if procedure_ids is not None:
        events = events.filter(procedure_id__in=procedure_ids)
    return (
        events.values("procedure_id")
        .annotate(
            **_selection("procedure__"),
            window_=F("window"),
            term_id_=_term("term_id", per_soc),
            pigsf_event_=_pigsf_event("", per_soc),
            soc=F("term__soc"),
            grade_=Max("grade"),
            patient_id=F("procedure__patient_id"),
            fractures_mask=F("procedure__outcome__fractures_mask"),
        )
        # Only procedures with a fracture are in a selection (and have a mask).
        .filter(fractures_mask__isnull=False)
        .order_by()
    )


# Each table, the querysets that compute its rows, and their output names for
# the table's columns.
_FRACTURE_TERM_COLUMNS = [
    ("fracture_id", "fracture_id"),
    ("department_id", "department_id"),
    ("started_at", "started_at"),
    ("started_on", "started_on"),
    ("guidance", "guidance"),
    ("operator", "operator"),
    ("window", "window"),
    ("term_id", "term_id"),
    ("pigsf_event", "pigsf_event"),
    ("soc", "soc"),
    ("grade", "grade"),
    ("procedure_id", "procedure_id"),
    ("type", "type"),
    ("site", "site"),
]
_PROCEDURE_TERM_COLUMNS = [
    ("procedure_id", "procedure_id"),
    ("department_id", "department_id"),
    ("started_at", "started_at"),
    ("started_on", "started_on"),
    ("guidance", "guidance"),
    ("operator", "operator"),
    ("window", "window_"),
    ("term_id", "term_id_"),
    ("pigsf_event", "pigsf_event_"),
    ("soc", "soc"),
    ("grade", "grade_"),
    ("patient_id", "patient_id"),
    ("fractures_mask", "fractures_mask"),
]
_TABLES: list[tuple[type[models.Model], list[tuple[Any, list[tuple[str, str]]]]]] = [
    (
        FractureOutcome,
        [
            (
                _fracture_rows,
                [
                    ("fracture_id", "pk"),
                    ("department_id", "department_id"),
                    ("started_at", "started_at"),
                    ("started_on", "started_on"),
                    ("guidance", "guidance"),
                    ("operator", "operator"),
                    ("contact_after_end", "contact_after_end"),
                    ("contact_beyond_24h", "contact_beyond_24h"),
                    *[(f"grade_{w}", f"grade_{w}") for w in Window.values],
                    ("procedure_id", "procedure_id_"),
                    ("patient_id", "patient_id"),
                    ("type", "type_"),
                    ("site", "site_"),
                ],
            )
        ],
    ),
    (
        ProcedureOutcome,
        [
            (
                _procedure_rows,
                [
                    ("procedure_id", "pk"),
                    ("department_id", "department_id"),
                    ("started_at", "started_at"),
                    ("started_on", "started_on"),
                    ("guidance", "guidance"),
                    ("operator", "operator"),
                    ("contact_after_end", "contact_after_end"),
                    ("contact_beyond_24h", "contact_beyond_24h"),
                    *[(f"grade_{w}", f"grade_{w}") for w in Window.values],
                    ("patient_id", "patient_id_"),
                    ("fractures_mask", "fractures_mask_"),
                ],
            )
        ],
    ),
    (
        FractureTermOutcome,
        [
            (partial(_fracture_term_rows, per_soc=False), _FRACTURE_TERM_COLUMNS),
            (partial(_fracture_term_rows, per_soc=True), _FRACTURE_TERM_COLUMNS),
        ],
    ),
    (
        ProcedureTermOutcome,
        [
            (partial(_procedure_term_rows, per_soc=False), _PROCEDURE_TERM_COLUMNS),
            (partial(_procedure_term_rows, per_soc=True), _PROCEDURE_TERM_COLUMNS),
        ],
    ),
]


# --- the monthly rollup ------------------------------------------------------------


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


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
            major=Count("pk", filter=Q(grade__gte=MAJOR_GRADE)),
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
MONTH, YEAR = "month", "year"  # the periods of the rollup rows
_MONTH_TABLES: list[tuple[type[models.Model], list[tuple[Any, list[tuple[str, str]]]]]] = [
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


def _months_of(procedures: QuerySet[Any], department: str) -> set[tuple[int, date]]:
    return set(
        procedures.annotate(month_=_month()).values_list(department, "month_").distinct().order_by()
    )


def _lock_periods(pairs: list[tuple[int, date]]) -> None:
    """Serialise the recomputation of a department's month (and of its year)
    across transactions: the second waits for the first to commit, then counts
    what it committed. Every writer takes its locks in one global order."""
    if connection.vendor != "postgresql":
        return  # SQLite runs one writer at a time
    keys = sorted(
        {(_MONTH_LOCK_SPACE + d, m.year * 12 + m.month) for d, m in pairs}
        | {(_YEAR_LOCK_SPACE + d, m.year) for d, m in pairs}
    )
    # One statement; PostgreSQL evaluates the select list left to right.
    _execute(
        "SELECT " + ", ".join(["pg_advisory_xact_lock(%s, %s)"] * len(keys)),
        [part for key in keys for part in key],
    )


# Keep these advisory locks apart from any other's.
_MONTH_LOCK_SPACE = 0x4D4F0000
_YEAR_LOCK_SPACE = 0x59520000


_KEYS = ("unit", "department_id", "window", "term_id", "pigsf_event", "soc")


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
    keys = [name for name in fields if name in _KEYS]
    counts = [name for name in fields if name not in (*_KEYS, "month")]
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


def _replace_months(pairs: list[tuple[int, date]] | None) -> None:
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
        _lock_periods(pairs)
    for model, producers in _MONTH_TABLES:
        if pairs is None or years is None:
            _execute(f"DELETE FROM {_table(model)}", [])
        else:
            arms = [(MONTH, d, m) for d, m in pairs] + [(YEAR, d, y) for d, y in years]
            _execute(
                f"DELETE FROM {_table(model)} WHERE "
                + " OR ".join(["(period = %s AND department_id = %s AND month = %s)"] * len(arms)),
                [
                    _prepared(kind, v)
                    for arm in arms
                    for kind, v in zip(("text", "id", "date"), arm, strict=True)
                ],
            )
        _insert_from(
            f"{model.__name__}.months",
            model,
            lambda b, producers=producers: [rows(b) for rows, _ in producers],
            producers[0][1],
            bounds,
            ("id", "date", "date"),
        )
        _insert_from(
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
# on how many values they filter on, so each is compiled once per process and shape
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


def _prepared(kind: str, value: Any) -> Any:
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


def _table(model: type[models.Model]) -> str:
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
        _table(model),
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


def _insert_from(
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
        return _execute(*_insert_sql(model, built(values), columns, ordered=values is None))
    slot_kinds = [kinds[i % len(kinds)] for i in range(len(values))]
    key = (connection.vendor, name, len(values))
    if key not in _COMPILED:
        first, second = _stand_ins(slot_kinds, 0), _stand_ins(slot_kinds, 1)
        sql, params = _insert_sql(model, built(first), columns)
        other_sql, other_params = _insert_sql(model, built(second), columns)
        prepared = [_prepared(k, v) for k, v in zip(slot_kinds, first, strict=True)]
        assert sql == other_sql and len(params) == len(other_params), name
        slots = [
            (position, prepared.index(a))
            for position, (a, b) in enumerate(zip(params, other_params, strict=True))
            if a != b
        ]
        _COMPILED[key] = (sql, params, slots)
    sql, params, slots = _COMPILED[key]
    params = list(params)
    for position, slot in slots:
        params[position] = _prepared(slot_kinds[slot], values[slot])
    return _execute(sql, params)


# Inside ``_batched``: the statements waiting to be sent together.
_batch: ContextVar[list[tuple[str, list[Any]]] | None] = ContextVar("outcomes_batch", default=None)


def _execute(sql: str, params: list[Any]) -> int:
    """Run a statement now, or, inside ``_batched``, at the end of the batch."""
    batch = _batch.get()
    if batch is not None:
        batch.append((sql, params))
        return 0
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


@contextmanager
def _batched() -> Iterator[None]:
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


def _replace(
    procedure_ids: list[int] | None,
    extra_months: set[tuple[int, date]] = frozenset(),  # type: ignore[assignment]
) -> dict[str, int]:
    counts = {}
    # The months whose rollup changes: where these procedures were (their
    # summary rows, before) and where they are now (a start or a patient moved).
    months = (
        None
        if procedure_ids is None
        else _months_of(ProcedureOutcome.objects.filter(pk__in=procedure_ids), "department_id")
        | _months_of(Procedure.objects.filter(pk__in=procedure_ids), "patient__department_id")
    )
    for model, producers in _TABLES:
        if procedure_ids is None:
            _execute(f"DELETE FROM {_table(model)}", [])
        else:
            _execute(
                f"DELETE FROM {_table(model)} WHERE procedure_id IN ("
                + ", ".join(["%s"] * len(procedure_ids))
                + ")",
                list(procedure_ids),
            )
        counts[model.__name__] = _insert_from(
            model.__name__,
            model,
            lambda ids, producers=producers: [rows(ids) for rows, _ in producers],
            producers[0][1],
            procedure_ids,
            ("id",),
        )
    _replace_months(None if months is None else sorted(months | extra_months))
    return counts


def outcomes_months(*, procedure_ids: Iterable[int]) -> set[tuple[int, date]]:
    """The (department, month) rollups that count these procedures now; what a
    deletion must recompute once the procedures are gone (``outcomes_refresh(months=)``)."""
    return _months_of(ProcedureOutcome.objects.filter(pk__in=list(procedure_ids)), "department_id")


# Inside ``outcomes_deferred``: the procedures and months its writes touched.
_pending: ContextVar[tuple[set[int], set[tuple[int, date]]] | None] = ContextVar(
    "outcomes_pending", default=None
)


@contextmanager
def outcomes_deferred() -> Iterator[None]:
    """A batch of clinical writes (the demo cohort, an import) in one transaction
    whose summary is refreshed once, at the end of the block, before the commit:
    one set of statements for all the procedures instead of one per write.

    Inside the block the summary lags the writes (a read of the rates there
    would not see them); outside, nothing can tell the difference. Nested
    blocks join the outermost.
    """
    if _pending.get() is not None:
        yield
        return
    pending: tuple[set[int], set[tuple[int, date]]] = (set(), set())
    token = _pending.set(pending)
    try:
        with transaction.atomic():
            yield
            _pending.reset(token)
            token = None
            outcomes_refresh(procedure_ids=pending[0], months=pending[1])
    finally:
        if token is not None:
            _pending.reset(token)


def outcomes_refresh(
    *, procedure_ids: Iterable[int], months: Iterable[tuple[int, date]] = ()
) -> None:
    """Recompute the summary rows of these procedures (and their fractures), and
    the monthly rollups they are counted in (plus ``months``).

    Called by every clinical write service inside its transaction; a handful of
    rows per procedure, a fixed number of statements. Inside
    ``outcomes_deferred``, only noted for the end of the block.
    """
    pending = _pending.get()
    if pending is not None:
        pending[0].update(int(pk) for pk in procedure_ids if pk is not None)
        pending[1].update(months)
        return
    ids = sorted({int(pk) for pk in procedure_ids if pk is not None})
    extra = set(months)
    if not ids:
        if extra:
            with transaction.atomic(), _batched():
                _replace_months(sorted(extra))
        return
    with transaction.atomic():
        # Two writes on one procedure at once (two complications recorded
        # together) each replace its rows: the second waits here until the first
        # commits, then reads what it committed. Without the lock its DELETE
        # would miss the first's new rows and its INSERT collide with them.
        list(Procedure.objects.select_for_update().filter(pk__in=ids).order_by("pk").values("pk"))
        with _batched():
            _replace(ids, extra)


def outcomes_rebuild() -> dict[str, int]:
    """Recompute the whole summary from the clinical tables (after a bulk load).

    One transaction: readers see the old summary until the new one is complete.
    On PostgreSQL the tables are analysed afterwards, so that the planner knows
    their new size (without it, it sorts where it should hash).
    """
    with transaction.atomic():
        counts = _replace(None)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for model, _ in [*_TABLES, *_MONTH_TABLES]:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    return counts


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
    for model, producers in _TABLES:
        fields = [column for column, _ in producers[0][1]]
        expected = [
            {column: row[name] for column, name in columns}
            for rows, columns in producers
            for row in rows(ids).values(*[name for _, name in columns]).iterator()
        ]
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
    for model, producers in _MONTH_TABLES:
        fields = [column for column, _ in producers[0][1]]
        expected = [
            {column: row[name] for column, name in columns}
            for rows, columns in producers
            for row in rows(None).values(*[name for _, name in columns]).iterator()
        ]
        if departments is not None:
            expected = [row for row in expected if row["department_id"] in departments]
        if "period" in fields:  # the years: the sums of their months
            years: dict[tuple[Any, ...], dict[str, Any]] = {}
            counts = [f for f in fields if f not in (*_KEYS, "period", "month")]
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
