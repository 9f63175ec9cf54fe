"""A version counter for live dashboards, and rates cached under it.

Open dashboards poll ``stats_version()`` every second (one cache read) and
refetch the rates only when it changed. The services call
``bump_stats_version()`` in ``transaction.on_commit`` after every clinical
write, so a cached result is keyed on the version it was computed at and never
needs deleting: a write moves every reader to new keys.

The counter lives in Django's cache, so it is shared between processes only
with a shared backend (Redis in production); the embedded registry's
per-process memory cache is fine for its single process.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from django.core.cache import cache

from complications.stats.breakdown import breakdown
from complications.stats.cohort import cohort
from complications.stats.rates import rates
from registry.scoping import visible_departments

logger = logging.getLogger(__name__)
VERSION_KEY = "stats:version"
# Cached results are found through the version, so they only need to live long
# enough to serve the dashboards open at the same time.
RESULT_TIMEOUT = 10 * 60


def _seed() -> int:
    """A starting value that never repeats an earlier counter.

    If the cache loses the counter (restart, eviction) but keeps some results,
    restarting from 0 would serve results computed at an old version 1, 2...
    Starting from the clock in milliseconds puts every new counter above any
    value an earlier one could have reached.
    """
    return int(time.time() * 1000)


def stats_version() -> int:
    """The current version; creates the counter if the cache has none."""
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, _seed(), timeout=None)
        version = cache.get(VERSION_KEY)
    return int(version)


def bump_stats_version() -> None:
    """Move every dashboard to a new version (after a clinical write commits).

    Runs after the commit, so the write is already stored: a cache outage must
    not turn it into an error (the user would retry and enter it twice). Open
    dashboards then catch up at the next bump or when cached results expire.
    """
    try:
        try:
            cache.incr(VERSION_KEY)
        except ValueError:
            # No counter yet: create one; if another process just did, increment it.
            if not cache.add(VERSION_KEY, _seed() + 1, timeout=None):
                cache.incr(VERSION_KEY)
    except Exception:  # the cache backend's own connection errors differ per backend
        logger.warning(
            "Live statistics version not bumped: the cache is unavailable.", exc_info=True
        )


def _cached(
    kind: str, compute: Callable[..., dict[str, Any]], *, user, **filters: Any
) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """``compute(user=user, **filters)``, cached per version, visible departments and filters.

    The key holds the departments the user can see rather than the user: what
    a selector returns depends only on them, so a department's head and its
    radiologists share one computation.
    """
    departments = sorted(visible_departments(user).values_list("pk", flat=True))
    fingerprint = json.dumps(
        {"departments": departments, "filters": filters}, sort_keys=True, default=str
    )
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()
    key = f"stats:{kind}:{stats_version()}:{digest}"
    result = cache.get(key)
    if result is None:
        result = compute(user=user, **filters)
        cache.set(key, result, RESULT_TIMEOUT)
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
