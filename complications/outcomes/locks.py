"""Advisory locks that serialise the recomputation of a department's months and years."""

from __future__ import annotations

from datetime import date

from django.db import connection

from complications.outcomes.statements import execute


def lock_periods(pairs: list[tuple[int, date]]) -> None:
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
    execute(
        "SELECT " + ", ".join(["pg_advisory_xact_lock(%s, %s)"] * len(keys)),
        [part for key in keys for part in key],
    )


# Keep these advisory locks apart from any other's.
_MONTH_LOCK_SPACE = 0x4D4F0000
_YEAR_LOCK_SPACE = 0x59520000
