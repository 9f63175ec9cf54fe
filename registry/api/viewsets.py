"""The base of every resource of the API: scoping, service writes, ETags, errors.

Views stay thin: a serializer checks shapes and types, then one service call
does the write inside a transaction. What every resource needs is here once:

- the queryset is always scoped to the user's departments (another
  department's record is a 404);
- a service's ``django.core.exceptions.ValidationError`` becomes a 400 with
  ``{"field": ["message"]}``, and an ``IntegrityError`` (a race the service
  checks could not see) a 400 too, after the transaction rolled back;
- the answer to a write is read back inside the write's transaction, so a committed write is
  never answered with an error; POSTs honour ``Idempotency-Key`` (``registry.idempotency``);
- every object response carries an ETag, and PUT/PATCH/DELETE honour
  ``If-Match`` under a row lock, so two clients editing the same version
  cannot both win.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Model, QuerySet
from django.utils.http import parse_etags
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from registry.api.parsers import BoundedJSONParser
from registry.api.permissions import ClinicalModelPermissions
from registry.api.schema import RegistryAutoSchema
from registry.idempotency import idempotent
from registry.scoping import scope_to_user
from registry.services import record_delete
from registry.verification import RecordLocked


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_code = "precondition_failed"

    def __init__(self) -> None:
        super().__init__(
            {
                api_settings.NON_FIELD_ERRORS_KEY: [
                    _(
                        "This record was changed since you read it (stale If-Match). "
                        "Fetch it again and re-apply your change."
                    )
                ]
            }
        )


class Locked(exceptions.APIException):
    """A change or deletion of a record of a verified case (``registry.verification``)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "locked"


def errors_from_django(exc: DjangoValidationError) -> dict[str, list[str]] | list[str]:
    """A Django ValidationError as DRF error data, ``__all__`` renamed ``non_field_errors``."""
    if hasattr(exc, "error_dict"):
        return {
            (api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field): messages
            for field, messages in exc.message_dict.items()
        }
    return {api_settings.NON_FIELD_ERRORS_KEY: exc.messages}


@contextmanager
def service_errors_as_400() -> Iterator[None]:
    """Turn what a service refuses into a 400. Put it *outside* the atomic block it guards."""
    try:
        yield
    except RecordLocked as exc:
        raise Locked(errors_from_django(exc)) from exc
    except DjangoValidationError as exc:
        raise exceptions.ValidationError(errors_from_django(exc)) from exc
    except IntegrityError as exc:
        raise exceptions.ValidationError(
            {
                api_settings.NON_FIELD_ERRORS_KEY: [
                    _(
                        "The record conflicts with another one saved at the same time "
                        "(e.g. the same registry id). Check and try again."
                    )
                ]
            }
        ) from exc


def etag_of(data: Any) -> str:
    """A strong ETag: the hash of the object's representation, so any visible change moves it."""
    encoded = json.dumps(data, sort_keys=True, cls=DjangoJSONEncoder).encode()
    return '"' + hashlib.sha256(encoded).hexdigest()[:32] + '"'


def check_if_match(request: Request, current: str) -> None:
    """Refuse with 412 unless ``If-Match`` is absent, ``*``, or names ``current`` (strongly)."""
    header = request.headers.get("If-Match")
    if header is None:
        return
    tags = parse_etags(header)
    if tags == ["*"] or current in tags:
        return
    raise PreconditionFailed()


class ETagRetrieveMixin:
    """GET one object answers with its ETag."""

    etag_responses: ClassVar[bool] = True

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.object_response(self.get_object(), status.HTTP_200_OK)  # type: ignore[attr-defined]

    def object_response(self, instance: Model, code: int) -> Response:
        data = self.get_serializer(instance).data  # type: ignore[attr-defined]
        return Response(data, status=code, headers={"ETag": etag_of(data)})


class ServiceModelViewSet(ETagRetrieveMixin, viewsets.ModelViewSet):
    """CRUD over a scoped queryset, writing through ``service_create`` / ``service_update``.

    Subclasses set ``base_queryset`` (with the select/prefetch their serializer
    needs, so lists take a fixed number of queries) and implement the two hooks.
    ``immutable_fields`` may be resent unchanged (a PUT repeats them) but not changed.
    """

    base_queryset: ClassVar[QuerySet[Any]]
    immutable_fields: ClassVar[tuple[str, ...]] = ()
    permission_classes = [ClinicalModelPermissions]
    schema = RegistryAutoSchema()
    parser_classes = [BoundedJSONParser]

    def get_queryset(self) -> QuerySet[Any]:
        return scope_to_user(self.base_queryset.all(), self.request.user)

    def check_permissions(self, request: Request) -> None:
        """A record the user cannot see is a 404 before anything else, even for a write
        they would not be allowed to make: a 403 would tell them it exists."""
        lookup = self.lookup_url_kwarg or self.lookup_field
        if request.user.is_authenticated and lookup in self.kwargs:
            try:
                visible = (
                    self.get_queryset().filter(**{self.lookup_field: self.kwargs[lookup]}).exists()
                )
            except (ValueError, TypeError, DjangoValidationError):
                visible = False
            if not visible:
                raise exceptions.NotFound()
        super().check_permissions(request)

    def service_create(self, data: dict[str, Any]) -> Model:
        raise NotImplementedError

    def service_update(self, instance: Model, data: dict[str, Any]) -> Model:
        raise NotImplementedError

    def service_delete(self, instance: Model) -> None:
        record_delete(record=instance)

    def _reloaded(self, instance: Model) -> Model:
        """Read back what was stored (derived and generated columns included), as a GET would."""
        return self.get_queryset().get(pk=instance.pk)

    def _object_for_write(self) -> Model:
        """The URL's object, locked for this transaction and checked against ``If-Match``.

        Read once to answer 404 (not visible, or not an id), then again after the
        row lock, so that the ETag compared is the one no other write can change.
        """
        pk = self.get_object().pk
        rows = self.base_queryset.model._default_manager.filter(pk=pk)
        list(rows.select_for_update(of=("self",)).values_list("pk", flat=True))
        instance = self.get_object()
        check_if_match(self.request, etag_of(self.get_serializer(instance).data))
        return instance

    def written_response(self, instance: Model, code: int) -> Response:
        """The answer to a write, read back *inside* its transaction: once it commits, nothing
        is left that can fail (a dropped connection before a re-read after the commit would
        turn a stored write into an error, and a retry into a second record)."""
        assert transaction.get_connection().in_atomic_block
        return self.object_response(self._reloaded(instance), code)

    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with service_errors_as_400(), transaction.atomic():
            instance = self.service_create(dict(serializer.validated_data))
            return self.written_response(instance, status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        with service_errors_as_400(), transaction.atomic():
            instance = self._object_for_write()
            serializer = self.get_serializer(instance, data=request.data, partial=partial)
            serializer.is_valid(raise_exception=True)
            data = dict(serializer.validated_data)
            for name in self.immutable_fields:
                if name in data and data[name] == getattr(instance, name):
                    del data[name]
            instance = self.service_update(instance, data)
            return self.written_response(instance, status.HTTP_200_OK)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with service_errors_as_400(), transaction.atomic():
            self.service_delete(self._object_for_write())
        return Response(status=status.HTTP_204_NO_CONTENT)
