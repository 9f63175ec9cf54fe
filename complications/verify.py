"""Every derived value of the registry, recomputed from the clinical rows and compared.

Read-only: nothing is written, so it runs on a live registry while people work.
What is recomputed, and by what (the code the writes use, never a second copy):

- each complication's ``auto_grade``, ``grade_rationale``, ``window``,
  ``hours_after_end``, ``cirse_grade`` and ``sir_class``: by
  ``services.complication_derive`` on an unsaved copy of the stored row (the
  ``grade`` column is the database's own ``coalesce(grade_override,
  auto_grade)``, so a wrong grade shows as a wrong ``auto_grade``); a row the
  derivation now refuses (facts that no longer fit the term) is a difference too;
- each procedure's ``started_on`` (its start's day in its department's time zone,
  which the statistics count by): by ``registry.models.local_date``;
- the outcome summary: by ``outcomes.check.outcomes_unit_differences`` (the per-unit
  tables, one chunk of procedures at a time) and
  ``outcomes.check.outcomes_month_differences`` (the rollups), the check of
  ``manage.py outcomes_rebuild --check``.

Rows are read in chunks through server-side cursors, so memory stays flat at a
million fractures; the time grows with the rows (docs/operations.md). On
PostgreSQL the whole run reads one read-only snapshot.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import QuerySet

from complications.models import ComplicationEvent
from complications.outcomes.check import outcomes_month_differences, outcomes_unit_differences
from complications.services import complication_derive
from registry.models import Department, Procedure, local_date

CHUNK = 1000
T = TypeVar("T")

# The fields complication_derive sets.
DERIVED_FIELDS = (
    "auto_grade",
    "grade_rationale",
    "window",
    "hours_after_end",
    "cirse_grade",
    "sir_class",
)

# What names one row of each summary table (a changed row is a missing one and an
# unexpected one with the same name).
SUMMARY_KEYS: dict[str, tuple[str, ...]] = {
    "FractureOutcome": ("fracture_id",),
    "ProcedureOutcome": ("procedure_id",),
    "FractureTermOutcome": ("fracture_id", "window", "term_id", "pigsf_event", "soc"),
    "ProcedureTermOutcome": ("procedure_id", "window", "term_id", "pigsf_event", "soc"),
    "OutcomeMonth": ("period", "unit", "department_id", "month"),
    "OutcomeTermMonth": (
        "period",
        "unit",
        "department_id",
        "month",
        "window",
        "term_id",
        "pigsf_event",
        "soc",
    ),
}
ABSENT = "(absent)"


@dataclass(frozen=True)
class Difference:
    record: str
    field: str
    stored: Any
    recomputed: Any


@dataclass
class Checked:
    """What a run looked at (filled in as the differences are consumed)."""

    complications: int = 0
    procedures: int = 0


def _complications(departments: QuerySet[Department] | None) -> QuerySet[ComplicationEvent]:
    events = ComplicationEvent.objects.select_related("term", "procedure__patient__department")
    if departments is not None:
        events = events.filter(procedure__patient__department__in=departments)
    return events.order_by("pk")


def complication_differences(
    *, departments: QuerySet[Department] | None = None, checked: Checked | None = None
) -> Iterator[Difference]:
    """Each stored derived field of a complication that its derivation would set otherwise."""
    checked = checked if checked is not None else Checked()
    for event in _complications(departments).iterator(chunk_size=CHUNK):
        checked.complications += 1
        record = f"complication {event.pk}"
        again = copy.copy(event)
        try:
            complication_derive(again)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                yield Difference(record, name, getattr(event, name, None), "; ".join(messages))
            continue
        for name in DERIVED_FIELDS:
            stored, recomputed = getattr(event, name), getattr(again, name)
            if stored != recomputed:
                yield Difference(record, name, stored, recomputed)


def _paired(table: str, rows: list[dict[str, Any]]) -> Iterator[Difference]:
    """A table's missing and unexpected rows as field differences of the rows they name."""
    key_fields = SUMMARY_KEYS[table]
    missing: dict[tuple[Any, ...], dict[str, Any]] = {}
    unexpected: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        for side, found in (("missing", missing), ("unexpected", unexpected)):
            if side in row:
                found[tuple(row[side][f] for f in key_fields)] = row[side]
    for key in sorted(missing.keys() | unexpected.keys(), key=str):
        record = table + " " + ", ".join(f"{f}={v}" for f, v in zip(key_fields, key, strict=True))
        recomputed, stored = missing.get(key), unexpected.get(key)
        if recomputed is None or stored is None:
            yield Difference(
                record, "(row)", _values(stored, key_fields), _values(recomputed, key_fields)
            )
            continue
        for name, value in recomputed.items():
            if stored[name] != value:
                yield Difference(record, name, stored[name], value)


def _values(row: dict[str, Any] | None, key_fields: tuple[str, ...]) -> str:
    if row is None:
        return ABSENT
    return ", ".join(f"{name}={value}" for name, value in row.items() if name not in key_fields)


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def summary_differences(
    *, departments: QuerySet[Department] | None = None, checked: Checked | None = None
) -> Iterator[Difference]:
    """Each row of the outcome summary that a recomputation would write otherwise."""
    checked = checked if checked is not None else Checked()
    procedures = Procedure.objects.order_by("pk")
    if departments is not None:
        procedures = procedures.filter(patient__department__in=departments)
    rows = procedures.values_list(
        "pk", "started_at", "started_on", "patient__department__time_zone"
    ).iterator(chunk_size=CHUNK)
    for chunk in _chunks(rows, CHUNK):
        for pk, started_at, started_on, zone in chunk:
            day = local_date(started_at, zone)
            if day != started_on:
                yield Difference(f"procedure {pk}", "started_on", started_on, day)
        checked.procedures += len(chunk)
        ids = [row[0] for row in chunk]
        for table, table_rows in outcomes_unit_differences(procedure_ids=ids).items():
            yield from _paired(table, table_rows)
    department_ids = None if departments is None else list(departments.values_list("pk", flat=True))
    for table, rows in outcomes_month_differences(department_ids=department_ids).items():
        yield from _paired(table, rows)


@contextmanager
def _snapshot() -> Iterator[None]:
    """On PostgreSQL, one read-only snapshot for the whole run, so that a write committed
    meanwhile cannot show as a difference between two of its reads. It takes no lock:
    writers go on (an hour-long snapshot only delays the vacuum of rows changed since).
    SQLite keeps one statement per read: a transaction held there would block writers."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def registry_differences(
    *, departments: QuerySet[Department] | None = None, checked: Checked | None = None
) -> Iterator[Difference]:
    """Every difference between the stored derived values and a recomputation, as found."""
    with _snapshot():
        yield from complication_differences(departments=departments, checked=checked)
        yield from summary_differences(departments=departments, checked=checked)
