"""System checks of the registry: ``manage.py check``, ``migrate``, ``runserver`` and the
WSGI entry point (``registry.wsgi``, which gunicorn loads) run them at start-up."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from django.core.checks import CheckMessage, Error, Tags, register
from django.db import DatabaseError, connection


@register(Tags.security)
def demo_passwords(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Production (DEBUG off) refuses to start while a demo account still opens with the
    password the README and ``manage.py demo`` publish.

    Each demo account is tried with its own demo password only: a few hashes, not every
    account against every password, so that a start stays fast with Argon2. A database
    without tables (a fresh install, before ``migrate``) or out of reach has no such
    account to refuse; the development server (DEBUG on) is meant to have them.
    """
    if settings.DEBUG:
        return []
    from registry.demo import ADMIN, DEMO_USERS

    published = {username: password for username, _role, password, _about in DEMO_USERS}
    published[ADMIN[0]] = ADMIN[1]
    users = get_user_model()
    try:
        if users._meta.db_table not in connection.introspection.table_names():
            return []
        accounts = list(
            users.objects.filter(is_active=True, username__in=published).values_list(
                "username", "password"
            )
        )
    except DatabaseError:
        return []
    # hashers.check_password, not User.check_password: a check never rewrites a hash.
    exposed = sorted(name for name, hashed in accounts if check_password(published[name], hashed))
    if not exposed:
        return []
    return [
        Error(
            f"Active account(s) with the published demo password: {', '.join(exposed)}.",
            hint=(
                "Give each a new password (manage.py changepassword <name>) or deactivate it "
                "before running with DEBUG=false."
            ),
            id="registry.E001",
        )
    ]
