"""Error pages people read: 404, 403 and 500 in the site's layout (with the menu when logged in).

Django's handlers render ``templates/404.html``, ``403.html`` and ``500.html`` (the 404 through
``registry.api.views.not_found``, which keeps JSON for ``/api/``). With ``DEBUG`` on, Django would
show its technical 404 page instead, to a clinician too (the embedded registry runs with ``DEBUG``
on): ``FriendlyNotFoundMiddleware`` calls the project's ``handler404`` then too, so a page gets
the friendly page and ``/api/`` its JSON as without ``DEBUG``. A 500 keeps Django's debug page
under ``DEBUG``, for whoever develops.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import get_resolver


class FriendlyNotFoundMiddleware:
    """Under ``DEBUG``, the project's 404 answer in place of Django's technical page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    @staticmethod
    def _not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
        handler = get_resolver().resolve_error_handler(404)
        response: HttpResponse = handler(request, exception)
        return response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # No route matched (the resolver's 404 never reaches process_exception).
        if settings.DEBUG and response.status_code == 404 and request.resolver_match is None:
            return self._not_found(request, Http404())
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if settings.DEBUG and isinstance(exception, Http404):
            return self._not_found(request, exception)
        return None
