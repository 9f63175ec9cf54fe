"""Every answer under ``/api/`` is JSON, errors included; pages keep their HTML.

- a dependency that is down (the database, the cache, the broker) is a **503** with
  ``Retry-After`` and ``{"detail": ..., "dependency": ...}``: the request did not happen
  (a write's transaction rolled back), so the client may retry (with the same
  ``Idempotency-Key``);
- any other unexpected error is a **500** ``{"detail": ...}`` (logged with its traceback);
- 400, 403, 404 raised outside DRF (Django's own refusals) are JSON too, and an oversized
  body a 413 (``registry.api.parsers.BodySizeLimitMiddleware``).

``ApiErrorMiddleware`` answers for exceptions raised in views (DRF re-raises what its
handler does not know); the ``handler*`` functions, named in ``registry.urls``, answer for
the rest (middleware, DEBUG off).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults

logger = logging.getLogger("django.request")

RETRY_AFTER_SECONDS = 5


def _dependency_errors() -> tuple[tuple[type[BaseException], str], ...]:
    pairs: list[tuple[type[BaseException], str]] = [
        (DatabaseOperationalError, "database"),
        (DatabaseInterfaceError, "database"),
    ]
    try:
        from kombu.exceptions import OperationalError as BrokerError

        pairs.append((BrokerError, "broker"))
    except ImportError:  # pragma: no cover - kombu comes with celery
        pass
    try:
        import redis.exceptions

        pairs.append((redis.exceptions.ConnectionError, "cache"))
        pairs.append((redis.exceptions.TimeoutError, "cache"))
    except ImportError:  # pragma: no cover - redis is a runtime dependency
        pass
    return tuple(pairs)


DEPENDENCY_ERRORS = _dependency_errors()


def dependency_of(exc: BaseException | None) -> str | None:
    """Which dependency's failure ``exc`` is (``database``, ``cache``, ``broker``), if any."""
    while exc is not None:
        for kind, name in DEPENDENCY_ERRORS:
            if isinstance(exc, kind):
                return name
        exc = exc.__cause__ or exc.__context__
    return None


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def unavailable(dependency: str) -> JsonResponse:
    response = JsonResponse(
        {
            "detail": _(
                "The service is temporarily unavailable (%(dependency)s). Nothing was "
                "changed: retry in a few seconds."
            )
            % {"dependency": dependency},
            "dependency": dependency,
        },
        status=503,
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def error_response(exc: BaseException | None) -> JsonResponse:
    """The JSON answer to an exception nothing else handled."""
    if isinstance(exc, RequestDataTooBig):
        return JsonResponse({"detail": str(exc)}, status=413)
    dependency = dependency_of(exc)
    if dependency:
        return unavailable(dependency)
    return JsonResponse(
        {"detail": _("Server error: the request failed. It was logged.")}, status=500
    )


class ApiErrorMiddleware:
    """An exception escaping an API view: JSON (503 for a dependency that is down, else 500)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api(request):
            return None
        response = error_response(exception)
        log = logger.warning if response.status_code == 503 else logger.error
        log(
            "%s: %s",
            "Service unavailable" if response.status_code == 503 else "Internal Server Error",
            request.path,
            exc_info=(type(exception), exception, exception.__traceback__),
            extra={"status_code": response.status_code, "request": request},
        )
        return response


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api(request):
        return error_response(sys.exc_info()[1])
    return defaults.server_error(request)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        if isinstance(exception, RequestDataTooBig):
            return JsonResponse({"detail": str(exception)}, status=413)
        return JsonResponse({"detail": _("Bad request.")}, status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return JsonResponse(
            {"detail": _("You do not have permission to perform this action.")}, status=403
        )
    return defaults.permission_denied(request, exception)
