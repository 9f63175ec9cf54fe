"""Refresh after a write, deferred batches and the full rebuild of the summary."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date

from django.db import connection, transaction

from complications.models import ProcedureOutcome
from complications.outcomes.producers import UNIT_TABLES
from complications.outcomes.rollup import MONTH_TABLES, months_of, replace_months
from complications.outcomes.statements import batched, execute, insert_from, table_name
from registry.models import Procedure


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
        else months_of(ProcedureOutcome.objects.filter(pk__in=procedure_ids), "department_id")
        | months_of(Procedure.objects.filter(pk__in=procedure_ids), "patient__department_id")
    )
    for model, producers in UNIT_TABLES:
        if procedure_ids is None:
            execute(f"DELETE FROM {table_name(model)}", [])
        else:
            execute(
                f"DELETE FROM {table_name(model)} WHERE procedure_id IN ("
                + ", ".join(["%s"] * len(procedure_ids))
                + ")",
                list(procedure_ids),
            )
        counts[model.__name__] = insert_from(
            model.__name__,
            model,
            lambda ids, producers=producers: [rows(ids) for rows, _ in producers],
            producers[0][1],
            procedure_ids,
            ("id",),
        )
    replace_months(None if months is None else sorted(months | extra_months))
    return counts


def outcomes_months(*, procedure_ids: Iterable[int]) -> set[tuple[int, date]]:
    """The (department, month) rollups that count these procedures now; what a
    deletion must recompute once the procedures are gone (``outcomes_refresh(months=)``)."""
    return months_of(ProcedureOutcome.objects.filter(pk__in=list(procedure_ids)), "department_id")


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
            with transaction.atomic(), batched():
                replace_months(sorted(extra))
        return
    with transaction.atomic():
        # Two writes on one procedure at once (two complications recorded
        # together) each replace its rows: the second waits here until the first
        # commits, then reads what it committed. Without the lock its DELETE
        # would miss the first's new rows and its INSERT collide with them.
        list(Procedure.objects.select_for_update().filter(pk__in=ids).order_by("pk").values("pk"))
        with batched():
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
            for model, _ in [*UNIT_TABLES, *MONTH_TABLES]:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    return counts
