"""Serializer fields shared by the API's resources.

They check shapes and types only; the domain rules stay in the services. Two
things the stock DRF fields get wrong for a clinical registry are fixed here:
a naive datetime would silently be read in the server's time zone (the
contract makes it a 400), and a reference to another department's record must
read "does not exist", exactly like a missing one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from django.db.models import Manager, Model, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from registry.models import Department
from registry.scoping import scope_to_user, visible_departments

# Far from the edges of Python's datetime range, so that time-zone arithmetic
# and the database drivers never overflow; no clinical date lies outside.
EARLIEST_YEAR = 1900
LATEST_YEAR = 2999
MAX_ID = 2**63 - 1


def _check_year(value: date | datetime) -> None:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise serializers.ValidationError(
            _("Enter a year between %(start)s and %(end)s.")
            % {"start": EARLIEST_YEAR, "end": LATEST_YEAR}
        )


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 datetime that must carry its offset: a naive one is a 400, never guessed."""

    default_error_messages = {
        "naive": _("Give a time zone (e.g. 2020-03-04T09:15:00+01:00)."),
    }

    def to_internal_value(self, value: Any) -> datetime:
        parsed = value if isinstance(value, datetime) else None
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
        if parsed is not None:
            _check_year(parsed)
            if timezone.is_naive(parsed):
                self.fail("naive")
        return super().to_internal_value(value)


class BoundedDateField(serializers.DateField):
    """An ISO 8601 date within years 1900-2999."""

    def to_internal_value(self, value: Any) -> date:
        result = super().to_internal_value(value)
        _check_year(result)
        return result


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A reference by id to a record the requesting user can see.

    A record of another department gives the same "does not exist" as a missing
    id, so that a 400 never confirms that it exists.
    """

    def __init__(self, model: type[Model], **kwargs: Any) -> None:
        self.model = model
        kwargs.setdefault("queryset", model._default_manager.all())
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet[Any]:
        request = self.context["request"]
        if self.model is Department:
            return visible_departments(request.user)
        return scope_to_user(self.model._default_manager.all(), request.user)

    def to_internal_value(self, data: Any) -> Model:
        # Only whole numbers are ids: 1.5 or true would otherwise be cast to 1.
        if isinstance(data, bool) or not (
            isinstance(data, int) or (isinstance(data, str) and data.strip().isdigit())
        ):
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)


@extend_schema_field({"type": "array", "items": {"type": "integer"}})
class IdListField(serializers.ListField):
    """Ids of related records, read from a (prefetched) relation and written as a list of ints."""

    child = serializers.IntegerField(min_value=1, max_value=MAX_ID)

    def to_representation(self, data: Iterable[Any]) -> list[int]:
        items = data.all() if isinstance(data, Manager) else data
        return [item.pk if isinstance(item, Model) else item for item in items]
