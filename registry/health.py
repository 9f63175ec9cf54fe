"""What the health endpoints check, one dependency at a time.

- ``/health/live/``: the process answers (no dependency): a liveness probe restarts the
  container only when this fails;
- ``/health/ready/`` (and ``/health/``, for the compose file and older monitors): each
  dependency separately; 503 when a required one (the database, the cache) is down, so a
  load balancer or Kubernetes stops sending traffic to this node. The broker and the
  replica are reported but not required: case entry and the statistics work without them
  (export jobs wait, docs/operations.md).

The answer names each check ``ok``, ``down`` (with the error's class, never its text: the
endpoint is public), or ``not configured``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connections

OK, DOWN, NOT_CONFIGURED = "ok", "down", "not configured"
PROBE_KEY = "health:probe"
# A replica further behind than this is reported "lagging" (still not required).
REPLICA_LAG_LIMIT_SECONDS = 30.0


def check_database() -> dict[str, Any]:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"status": OK}


def check_cache() -> dict[str, Any]:
    token = uuid.uuid4().hex
    cache.set(PROBE_KEY, token, timeout=30)
    if cache.get(PROBE_KEY) != token:
        return {"status": DOWN, "error": "the cache did not keep a value"}
    return {"status": OK}


def check_broker() -> dict[str, Any]:
    if getattr(
        settings, "CELERY_TASK_ALWAYS_EAGER", False
    ) or settings.CELERY_BROKER_URL.startswith("memory://"):
        return {"status": NOT_CONFIGURED}
    from registry.celery import app

    with app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
    return {"status": OK}


def check_replica_lag() -> dict[str, Any]:
    if "replica" not in settings.DATABASES:
        return {"status": NOT_CONFIGURED}
    with connections["replica"].cursor() as cursor:
        cursor.execute(
            "SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
            " ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END"
        )
        (lag,) = cursor.fetchone()
    seconds = float(lag or 0)
    return {"status": OK if seconds <= REPLICA_LAG_LIMIT_SECONDS else "lagging", "seconds": seconds}


# name: (check, required for readiness)
CHECKS: dict[str, tuple[Callable[[], dict[str, Any]], bool]] = {
    "database": (check_database, True),
    "cache": (check_cache, True),
    "broker": (check_broker, False),
    "replica_lag": (check_replica_lag, False),
}


def readiness() -> tuple[bool, dict[str, Any]]:
    """(ready, the answer's body): every check run, each failure caught and named."""
    results: dict[str, Any] = {}
    ready = True
    for name, (check, required) in CHECKS.items():
        started = time.monotonic()
        try:
            result = check()
        except Exception as exc:  # each backend raises its own connection errors
            result = {"status": DOWN, "error": type(exc).__name__}
        result["required"] = required
        result["ms"] = round((time.monotonic() - started) * 1000, 1)
        results[name] = result
        if required and result["status"] != OK:
            ready = False
    return ready, {"status": "ok" if ready else "unavailable", "checks": results}
