"""``/api/v1/``: the API's front door, a JSON list of its endpoints (the ones without an id in
their path), each by its route name, found from the URL configuration itself so that a new
endpoint is listed without editing this file. The schema and its documentation are among them."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from django.views.decorators.http import require_GET

API_ROOT = "/api/v1/"


def _names(patterns: list[Any]) -> list[str]:
    names: list[str] = []
    for entry in patterns:
        if isinstance(entry, URLResolver):
            names += _names(entry.url_patterns)
        elif isinstance(entry, URLPattern) and entry.name:
            names.append(entry.name)
    return names


def endpoints() -> dict[str, str]:
    """Route name -> path of every parameterless endpoint under ``/api/v1/``."""
    found: dict[str, str] = {}
    for name in _names(get_resolver().url_patterns):
        try:
            path = reverse(name)
        except NoReverseMatch:
            continue  # a detail route (needs an id) or not ours
        if path.startswith(API_ROOT) and path != API_ROOT and name not in found:
            found[name] = path
    return dict(sorted(found.items(), key=lambda item: item[1]))


@login_not_required
@require_GET
def api_root(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "version": "v1",
            "schema": request.build_absolute_uri(reverse("schema")),
            "docs": request.build_absolute_uri(reverse("api-docs")),
            "authentication": "Authorization: Token <key> (POST auth/token/ with username and password)",
            "endpoints": {
                name: request.build_absolute_uri(path) for name, path in endpoints().items()
            },
        }
    )
