"""JSON bodies, read with a bound on their nesting, and a bound on the size of every body.

Python's ``json`` decoder recurses once per nesting level: a body of a thousand
``[`` exhausts the interpreter's stack and the request ends in a 500, before any
serializer or permission is consulted (the token endpoint takes bodies from
anyone). ``load_json`` first measures the depth with a scan that does not
recurse, and only parses what is shallow enough. Every JSON entry point reads
its body through it: the DRF parser below (the default parser and the one the
resources name) and any page view that decodes a JSON body.

The size bound is Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (configurable, see
settings); ``BodySizeLimitMiddleware`` answers a body declared larger with a
413 before anything reads it, in JSON to the API and to pages' JSON requests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.settings import api_settings
from rest_framework.utils.json import strict_constant

MAX_JSON_DEPTH = 32

# A whole string, a bracket, or the quote of a string that never ends (possessive: a failed
# string match never backtracks, so the scan stays linear).
_TOKENS = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"|[\[\]{}]|"', re.DOTALL)
_OPENING = frozenset("[{")
_CLOSING = frozenset("]}")


class JSONBodyError(ValueError):
    """A body that is not JSON, or JSON nested deeper than ``MAX_JSON_DEPTH``."""


def json_depth_exceeds(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether arrays and objects nest deeper than ``limit`` anywhere in ``text``.

    One linear pass without recursion, stopping at the first level too deep;
    brackets inside strings are text. An unterminated string ends the scan: the
    decoder stops there too, with an error, having nested no deeper than counted.
    """
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in _OPENING:
            depth += 1
            if depth > limit:
                return True
        elif token in _CLOSING:
            depth -= 1
        elif token == '"':
            return False
    return False


def load_json(text: str | bytes, *, parse_constant: Callable[[str], Any] | None = None) -> Any:
    """``json.loads`` for bodies sent by anyone: never deeper than ``MAX_JSON_DEPTH``."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JSONBodyError(_("The body is not UTF-8 text.")) from exc
    if json_depth_exceeds(text):
        raise JSONBodyError(
            _("The JSON body nests arrays and objects deeper than %(limit)d levels.")
            % {"limit": MAX_JSON_DEPTH}
        )
    try:
        return json.loads(text, parse_constant=parse_constant)
    except RecursionError as exc:  # a smaller stack than the depth bound assumes
        raise JSONBodyError(_("The JSON body nests too deeply.")) from exc
    except ValueError as exc:
        raise JSONBodyError(_("The body is not valid JSON: %(error)s") % {"error": exc}) from exc


class BoundedJSONParser(parsers.JSONParser):
    """DRF's JSON parser through ``load_json``; what it refuses is a 400 in the API's shape."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> Any:
        encoding = parsers.get_encoding(parser_context or {})
        try:
            text = stream.read().decode(encoding)
        except UnicodeDecodeError as exc:
            raise ParseError(
                {
                    api_settings.NON_FIELD_ERRORS_KEY: [
                        _("The body is not %(encoding)s text.") % {"encoding": encoding}
                    ]
                }
            ) from exc
        constant = strict_constant if self.strict else None
        try:
            return load_json(text, parse_constant=constant)
        except JSONBodyError as exc:
            raise ParseError({api_settings.NON_FIELD_ERRORS_KEY: [str(exc)]}) from exc


def wants_json(request: HttpRequest) -> bool:
    """The API, or a page's script asking for JSON (the case form's live preview)."""
    if request.path_info.startswith("/api/"):
        return True
    return request.get_preferred_type(["text/html", "application/json"]) == "application/json"


class BodySizeLimitMiddleware:
    """413 for a body declared larger than ``DATA_UPLOAD_MAX_MEMORY_SIZE``, before it is read.

    Django would refuse it too, on first reading the body, but with a 400 HTML page
    (or inside a DRF view, after authentication). HTML pages keep Django's answer.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        # An upload endpoint (an import's file, which Django streams to disk) has its own
        # limit for a multipart body; its form fields still count against Django's own.
        if request.META.get("CONTENT_TYPE", "").startswith("multipart/form-data"):
            limit = getattr(settings, "UPLOAD_MAX_SIZES", {}).get(request.path_info, limit)
        if limit is not None and wants_json(request):
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                declared = 0
            if declared > limit:
                return JsonResponse(
                    {"detail": _("The body is larger than %(limit)d bytes.") % {"limit": limit}},
                    status=413,
                )
        return self.get_response(request)
