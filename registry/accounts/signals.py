"""The login history: every sign-in and failed attempt, with its method.

Receivers of Django's own signals (``user_logged_in``, ``user_login_failed``), so that the
login page, the provider's callback and the API token exchange are all recorded, each
naming its method: a failed attempt that carries a username is a password attempt; one
without is the provider's (whose callback authenticates with a code, never a username).
"""

from __future__ import annotations

import time
from typing import Any

from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.auth.models import User
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from registry.accounts import services
from registry.accounts.models import LoginMethod
from registry.audit.logins import client_address

OIDC_BACKEND = "registry.accounts.oidc.RegistryOIDCBackend"
# The session's last activity (registry.accounts.middleware), started at the sign-in itself so
# that the first pages after it need no session write of their own.
LAST_ACTIVITY = "accounts_last_activity"
TOKEN_PATH = "/api/v1/auth/token/"


def _method(request: Any, *, backend: str = "", credentials: dict[str, Any] | None = None) -> str:
    if request is not None and getattr(request, "path", "") == TOKEN_PATH:
        return LoginMethod.TOKEN
    if backend == OIDC_BACKEND or (credentials is not None and "username" not in credentials):
        return LoginMethod.OIDC
    return LoginMethod.PASSWORD


def _address(request: Any) -> str | None:
    request = getattr(request, "_request", request)
    return client_address(request) if request is not None else None


@receiver(user_logged_in, dispatch_uid="accounts-login-history")
def _logged_in(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        request.session[LAST_ACTIVITY] = time.time()
    backend = getattr(user, "backend", "") or (
        request.session.get(BACKEND_SESSION_KEY, "") if request is not None else ""
    )
    services.login_record(
        user=user,
        username=user.get_username(),
        method=_method(request, backend=backend),
        success=True,
        address=_address(request),
    )


@receiver(user_login_failed, dispatch_uid="accounts-login-history-failed")
def _login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    if request is None:  # a shell or a command: nobody signing in
        return
    username = str(credentials.get("username") or "")
    services.login_record(
        user=User.objects.filter(username=username).first() if username else None,
        username=username,
        method=_method(request, credentials=credentials),
        success=False,
        address=_address(request),
    )
