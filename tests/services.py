"""Which real services this test run has, and what to do when one is missing.

Tests that need a real service carry a marker: ``postgres``, ``redis`` or
``browser``. Without the service they are skipped with the reason named
(``-ra`` prints it); with REQUIRE_SERVICES naming the service (CI) a missing
service fails the whole run before any test starts.
"""

from __future__ import annotations

import os
import shutil
import socket
from functools import cache
from urllib.parse import urlparse

from django.conf import settings


def required() -> set[str]:
    return {s.strip() for s in os.environ.get("REQUIRE_SERVICES", "").split(",") if s.strip()}


def redis_url() -> str | None:
    return os.environ.get("TEST_REDIS_URL") or None


def chromium_path() -> str | None:
    candidate = (
        os.environ.get("CHROMIUM_PATH")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )
    return candidate if candidate and os.path.exists(candidate) else None


def nginx_path() -> str | None:
    candidate = shutil.which("nginx") or "/usr/sbin/nginx"
    return candidate if os.path.exists(candidate) else None


@cache
def missing(service: str) -> str | None:
    """Why ``service`` cannot be used in this run, or None when it can."""
    if service == "postgres":
        if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
            return "needs PostgreSQL: set DATABASE_URL=postgres://... (this run uses SQLite)"
        return None
    if service == "redis":
        url = redis_url()
        if not url:
            return (
                "needs Redis and a real Celery worker: set TEST_REDIS_URL=redis://127.0.0.1:6379/15"
            )
        if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
            return "needs PostgreSQL too: a worker process cannot share SQLite's in-memory test database"
        parsed = urlparse(url)
        try:
            socket.create_connection(
                (parsed.hostname or "127.0.0.1", parsed.port or 6379), 2
            ).close()
        except OSError as exc:
            return f"Redis at {url} is not answering ({exc})"
        return None
    if service == "browser":
        if chromium_path() is None:
            return "needs Chromium: install Debian's chromium or set CHROMIUM_PATH"
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            return "needs the playwright Python package"
        return None
    if service == "nginx":
        if nginx_path() is None:
            return "needs nginx (the production proxy): apt-get install nginx-light"
        return None
    raise ValueError(service)
