"""The live version of the statistics, kept in the database, and rates cached under it.

Open dashboards poll ``stats_version()`` twice a second and refetch the rates
only when it changed. Every clinical write calls ``bump_stats_version()`` inside
its own transaction (next to its outcome summary refresh): it inserts a
``StatsChange`` row, and the version is the sum of their ``n``. So the version
moves exactly when the write becomes visible, and a write can never be counted
without moving it: the cache plays no part in it, whether it was down at write
time, restarted empty, or restarted with old persisted data.

Results are cached under the version they were computed at (and stored only if
the version did not move while they were computed), so a cached entry is the
statistics of exactly that database state and never needs deleting: a write
moves every reader to new keys. With the cache down, results are computed from
the database on every request (slower, never stale).

Inserts never wait on each other (unlike the update of a single counter row,
which would serialise every clinical write until its commit, or deadlock two
writes that each refresh several procedures); ``stats_changes_compact`` folds
the rows into one, keeping the sum, every ``COMPACT_EVERY`` changes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import Max, Sum
from django.utils.translation import get_language

from complications.models import StatsChange
from complications.stats.breakdown import breakdown
from complications.stats.cohort import cohort
from complications.stats.rates import rates
from registry.scoping import visible_departments

logger = logging.getLogger(__name__)
# Cached results are found through the version, so they only need to live long
# enough to serve the dashboards open at the same time.
RESULT_TIMEOUT = 10 * 60
COMPACT_EVERY = 1000


def _seed() -> int:
    """A starting value above any version an earlier database reached (the clock
    in milliseconds): for a database emptied behind the registry's back."""
    return int(time.time() * 1000)


def stats_version() -> int:
    """The current version: the sum of the committed changes (one query, a small table)."""
    total = StatsChange.objects.aggregate(total=Sum("n"))["total"]
    if total is None:
        StatsChange.objects.create(n=_seed())
        total = StatsChange.objects.aggregate(total=Sum("n"))["total"]
    return int(total)


def bump_stats_version() -> None:
    """Move every dashboard to a new version, in the caller's transaction.

    Called by the write services next to their outcome summary refresh: if the
    write rolls back, so does the bump; once it commits, every reader sees both.
    """
    change = StatsChange.objects.create()
    if change.pk % COMPACT_EVERY == 0:
        transaction.on_commit(stats_changes_compact)


def stats_changes_compact() -> int:
    """Fold the committed change rows into one with their sum; returns the rows folded.

    Rows another compaction holds are skipped (``skip_locked``), and rows of writes
    not yet committed are not seen, so the sum, the version, never changes.
    """
    try:
        with transaction.atomic():
            last = StatsChange.objects.aggregate(last=Max("pk"))["last"]
            rows = list(
                StatsChange.objects.select_for_update(skip_locked=True)
                .filter(pk__lte=last or 0)
                .values_list("pk", "n")
            )
            if len(rows) < 2:
                return 0
            StatsChange.objects.filter(pk__in=[pk for pk, _ in rows]).delete()
            StatsChange.objects.create(n=sum(n for _, n in rows))
            return len(rows)
    except Exception:  # after a commit: a failed clean-up must not fail the write
        logger.warning("Statistics change rows not compacted.", exc_info=True)
        return 0


def _cache_call(method: Callable[..., Any], *args: Any) -> Any:
    """A cache read or write that a cache outage turns into a miss (logged)."""
    try:
        return method(*args)
    except Exception:  # each cache backend raises its own connection errors
        logger.warning("Statistics cache unavailable: computing from the database.", exc_info=True)
        return None


def _cached(
    kind: str, compute: Callable[..., dict[str, Any]], *, user, **filters: Any
) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """``compute(user=user, **filters)``, cached per version, visible departments and filters.

    The key holds the departments the user can see rather than the user: what
    a selector returns depends only on them, so a department's head and its
    radiologists share one computation. The language is in it too: the results carry
    labels (fracture types, sites) in the reader's language.
    """
    departments = sorted(visible_departments(user).values_list("pk", flat=True))
    fingerprint = json.dumps(
        {"departments": departments, "filters": filters, "language": get_language()},
        sort_keys=True,
        default=str,
    )
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()
    version = stats_version()  # read before computing: the result is at least this new
    key = f"stats:{kind}:{version}:{digest}"
    result = _cache_call(cache.get, key)
    if result is None:
        result = compute(user=user, **filters)
        # Stored only if no write committed meanwhile: an entry is exactly its version's state.
        if stats_version() == version:
            _cache_call(cache.set, key, result, RESULT_TIMEOUT)
    return result


def cached_rates(*, user, **filters: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """``stats.rates.rates`` through the cache."""
    return _cached("rates", rates, user=user, **filters)


def cached_cohort(*, user, **filters: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """``stats.cohort.cohort`` through the cache."""
    return _cached("cohort", cohort, user=user, **filters)


def cached_breakdown(*, user, **filters: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """``stats.breakdown.breakdown`` through the cache."""
    return _cached("breakdown", breakdown, user=user, **filters)
