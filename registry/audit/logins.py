"""Login lockout: django-axes, on the login page and on the API token endpoint.

Axes counts failed sign-ins per username and address and refuses them once
``AXES_FAILURE_LIMIT`` is reached; ``AxesMiddleware`` answers with the lockout
page. Its backend needs two adjustments here:

- Without a request (``manage.py shell``, a management command, the test
  client's ``login()``) there is no remote client to throttle, so the check is
  skipped instead of raising, as stock axes does.
- DRF's token endpoint calls ``authenticate()`` with DRF's ``Request``, which
  wraps Django's; the lockout flag must be set on the wrapped ``HttpRequest``,
  the one the middleware sees, for the endpoint to answer with the lockout
  response instead of a plain "unable to log in".
"""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str | None:
    """The address a lockout is counted for (``AXES_CLIENT_IP_CALLABLE``).

    Behind ``TRUSTED_PROXY_COUNT`` reverse proxies, each appends the address it
    received from to X-Forwarded-For, so the client is that many entries from
    the right; anything further left was written by the client itself.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [address for address in forwarded if address]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR")


class LockoutBackend(AxesStandaloneBackend):
    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        try:
            return super().authenticate(request, username, password, **kwargs)
        finally:
            wrapped = getattr(request, "_request", None)
            if isinstance(wrapped, HttpRequest) and getattr(request, "axes_locked_out", False):
                wrapped.axes_locked_out = True  # type: ignore[attr-defined]
