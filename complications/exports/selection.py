"""What an export covers.

The filters are those of the statistics (department, date_from, date_to,
fracture_type, site, guidance, operator) and select the same fractures, through
the statistics' own selection (``complications.stats.selection``), so that an export
always holds the cases behind the rates on the dashboard. A complication is
exported when it concerns at least one selected fracture, and lists only the
selected fractures it concerns (so every fracture id it names is a row of the
cases table and a Condition of the Bundle).
Everything starts from ``registry.scoping.scope_to_user``; a job is further
limited to the departments its owner could see when asking.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import date
from typing import Any

from django.db.models import QuerySet

from complications.models import ComplicationEvent
from complications.stats.selection import (
    DATE_FILTERS,
    FILTER_NAMES,
    selected_fractures,
    selection_from,
)
from registry.models import Fracture
from registry.roles import EXPORT_IDENTIFIERS
from registry.scoping import scope_to_user

EXPORT_DATA = "registry.export_data"
DATES = ("exact", "shifted", "year")
OPERATORS = ("names", "pseudonyms")
DIALECTS = ("standard", "excel_eu")


@dataclass(frozen=True)
class ExportOptions:
    """How the tables are shaped: ``complications.exports.options`` applies them."""

    labels: bool = False
    flatten_facts: bool = False
    dates: str = "exact"
    operators: str = "names"
    dialect: str = "standard"
    real_dates: bool = False
    language: str = ""  # the labels' language; the site's default when empty

    @property
    def deidentified(self) -> bool:
        return self.dates != "exact" or self.operators != "names"

    @property
    def reshapes(self) -> bool:
        """Whether the rows differ from the tables' own (the dialect and typed cells aside)."""
        return self.labels or self.flatten_facts or self.deidentified

    def is_default(self) -> bool:
        return self == ExportOptions(language=self.language)

    def to_json(self) -> dict[str, Any]:
        """What a job stores: the options that differ from the defaults, and the language."""
        default = ExportOptions()
        return {k: v for k, v in asdict(self).items() if v != getattr(default, k)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ExportOptions:
        names = {item.name for item in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in names})


@dataclass(frozen=True)
class Selection:
    """What an export covers (the user's scope, the filters, a job's frozen
    departments) and how much it may reveal (``identifiers``)."""

    user: Any
    filters: Mapping[str, Any] = field(default_factory=dict)
    departments: tuple[int, ...] | None = None
    identifiers: bool = False
    options: ExportOptions = field(default_factory=lambda: ExportOptions())

    @classmethod
    def for_user(
        cls,
        user: Any,
        filters: Mapping[str, Any] | None = None,
        departments: Iterable[int] | None = None,
        options: ExportOptions | None = None,
    ) -> Selection:
        return cls(
            user=user,
            filters=selection_from(filters or {}),
            departments=tuple(departments) if departments is not None else None,
            identifiers=user.has_perm(EXPORT_IDENTIFIERS),
            options=options or ExportOptions(),
        )

    def fractures(self) -> QuerySet[Fracture]:
        fractures = selected_fractures(user=self.user, **self.filters)
        if self.departments is not None:
            fractures = fractures.filter(procedure__patient__department__in=self.departments)
        return fractures

    def events(self) -> QuerySet[ComplicationEvent]:
        """The complications the user may see, selected or not."""
        return scope_to_user(ComplicationEvent.objects.all(), self.user)

    def complications(self) -> QuerySet[ComplicationEvent]:
        return self.events().filter(pk__in=self.links().values("complicationevent_id"))

    def links(self) -> QuerySet[Any]:
        """The complication-fracture links of the selected fractures."""
        return ComplicationEvent.fractures.through.objects.filter(fracture__in=self.fractures())


def filters_to_json(filters: Mapping[str, Any]) -> dict[str, Any]:
    """Validated filters as stored on a job (dates as ISO strings; unset ones dropped)."""
    return {
        name: value.isoformat() if isinstance(value, date) else value
        for name, value in selection_from(filters).items()
    }


def filters_from_json(data: Mapping[str, Any]) -> dict[str, Any]:
    """A job's stored filters back as selector arguments."""
    return {
        name: date.fromisoformat(value) if name in DATE_FILTERS else value
        for name, value in data.items()
        if name in FILTER_NAMES
    }
