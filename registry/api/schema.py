"""OpenAPI description of what the registry's API views really do, beyond introspection.

drf-spectacular documents serializers and filters by itself; it cannot see that
object responses carry an ETag, that writes honour ``If-Match`` (412 when
stale), nor the error bodies every view can answer with. The views of this
API use `RegistryAutoSchema`, which adds them in one place so that no
operation can forget them.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
CONDITIONAL_METHODS = ("PUT", "PATCH", "DELETE")
OBJECT_ACTIONS = ("retrieve", "create", "update", "partial_update", "destroy")

IF_MATCH = OpenApiParameter(
    name="If-Match",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "The ETag of the version you edited (or `*`). A stale ETag is refused with 412, "
        "so that a concurrent change is never overwritten silently."
    ),
)
ETAG = OpenApiParameter(
    name="ETag",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    response=["200", "201"],
    description="Version of the object in this response; send it back in `If-Match`.",
)

IDEMPOTENCY_KEY = OpenApiParameter(
    name="Idempotency-Key",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "A key of yours for this write (1-255 visible ASCII characters, a UUID for example). "
        "Resent with the same request within a day, it returns the first answer (header "
        "`Idempotent-Replayed: true`) instead of writing again; with another request, a 422."
    ),
)

ERRORS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Messages per field; `non_field_errors` for the record as a whole.",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}
DETAIL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}


class RegistryAutoSchema(AutoSchema):
    """AutoSchema plus ETag / If-Match headers and the error responses of every operation."""

    def _action(self) -> str | None:
        return getattr(self.view, "action", None)

    def _carries_etag(self) -> bool:
        etags = bool(getattr(self.view, "etag_responses", False))
        return etags and self._action() in OBJECT_ACTIONS

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        if self._carries_etag():
            if self.method in CONDITIONAL_METHODS:
                parameters.append(IF_MATCH)
            if self.method != "DELETE":
                parameters.append(ETAG)
        if self.method == "POST" and self._idempotent():
            parameters.append(IDEMPOTENCY_KEY)
        return parameters

    def _idempotent(self) -> bool:
        handler = getattr(self.view, self._action() or "post", None)
        return bool(getattr(handler, "idempotent", False))

    def _component(self, name: str, schema: dict[str, Any]) -> dict[str, Any]:
        component = ResolvedComponent(
            name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema
        )
        self.registry.register_on_missing(component)
        return component.ref

    def _error(self, description: str, name: str, schema: dict[str, Any]) -> dict[str, Any]:
        ref = self._component(name, schema)
        return {
            "description": description,
            "content": {media: {"schema": ref} for media in self.map_renderers("media_type")},
        }

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:  # type: ignore[override]
        responses = dict(super()._get_response_bodies(direction))
        if direction != "response":
            return responses
        errors = ("Errors", ERRORS_SCHEMA)
        detail = ("ErrorDetail", DETAIL_SCHEMA)
        has_object = "{" in self.path
        if self.method in WRITE_METHODS or getattr(self.view, "filterset_class", None):
            responses.setdefault("400", self._error("Invalid input.", *errors))
        if self.method in ("POST", "PUT", "PATCH"):
            responses.setdefault("415", self._error("The body is not JSON.", *detail))
            responses.setdefault(
                "413",
                self._error(
                    "The body is larger than the configured limit (DATA_UPLOAD_MAX_MEMORY_SIZE).",
                    *detail,
                ),
            )
        if self.method == "POST" and self._idempotent():
            responses.setdefault(
                "422",
                self._error("The Idempotency-Key was used for another request.", *detail),
            )
        responses.setdefault(
            "503",
            self._error(
                "A dependency (database, cache, broker) is down: nothing was changed; retry "
                "after `Retry-After` seconds (with the same Idempotency-Key).",
                *detail,
            ),
        )
        responses.setdefault("401", self._error("Not authenticated.", *detail))
        responses.setdefault("403", self._error("Not allowed for this user's role.", *detail))
        if has_object:
            responses.setdefault(
                "404", self._error("Not found, or not visible to this user.", *detail)
            )
        elif self.method == "GET" and self._is_list_view() and self._get_paginator():
            responses.setdefault(
                "404", self._error("No such page (`?page=` past the end).", *detail)
            )
        if self._carries_etag() and self.method in CONDITIONAL_METHODS:
            responses.setdefault(
                "412", self._error("If-Match names a stale version of the object.", *errors)
            )
            responses.setdefault(
                "409",
                self._error(
                    "The record belongs to a verified case and is locked "
                    "(a data manager unlocks it: POST /procedures/{id}/unlock/).",
                    *errors,
                ),
            )
        return responses
