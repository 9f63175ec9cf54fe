"""The selection: the filters every statistic takes, their rules, and the rows they select.

One spec for every entry point: the statistics API (``api/stats.py``), the
dashboard pages (``views.StatsFilterForm``), the exports (``exports.Selection``,
a job's stored filters) and the summary reads all take the filter names
(``FILTER_NAMES``), the rules beyond each field's type (``selection_errors``),
the department check (``department_visible``) and the set filters
(``selection_from``) from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, TypedDict, Unpack

from django.db.models import F, Q, QuerySet
from django.utils.translation import gettext as _

from complications.models import (
    FractureOutcome,
    FractureTermOutcome,
    ProcedureOutcome,
    ProcedureTermOutcome,
    Window,
)
from complications.outcomes.layout import mask_bits
from registry.api.fields import EARLIEST_YEAR, LATEST_YEAR
from registry.forms import PERIOD_REVERSED
from registry.models import Department, Fracture, Procedure
from registry.scoping import scope_to_user, visible_departments

Unit = Literal["fracture", "procedure", "patient"]
UNITS: tuple[str, ...] = ("fracture", "procedure", "patient")
WINDOWS: tuple[str, ...] = tuple(Window.values)  # per_procedural, early, delayed


class Selection(TypedDict, total=False):
    """The filters every statistic takes (``selected_fractures``'s keyword arguments)."""

    department: Department | int | None
    date_from: date | None
    date_to: date | None
    fracture_type: str | None
    site: str | None
    guidance: str | None
    operator: str | None
    verified: bool | None


FILTER_NAMES: tuple[str, ...] = tuple(Selection.__annotations__)
DATE_FILTERS = ("date_from", "date_to")
# Far from the edges of Python's datetime range (registry.api.fields): the local-midnight
# arithmetic and the database drivers never overflow.
EARLIEST = date(EARLIEST_YEAR, 1, 1)
LATEST = date(LATEST_YEAR, 12, 31)


def selection_from(values: Mapping[str, Any]) -> Selection:
    """The filters actually set among ``values`` (other keys, None, "" and False dropped:
    ``verified=false`` selects every case, as no filter does)."""
    return {  # type: ignore[return-value]
        name: value
        for name, value in values.items()
        if name in FILTER_NAMES and value is not False and value not in (None, "")
    }


def selection_errors(values: Mapping[str, Any]) -> dict[str, list[str]]:
    """The rules of a selection beyond each filter's own type, as ``{filter: [message]}``:
    dates between ``EARLIEST`` and ``LATEST``, and ``date_from`` not after ``date_to``."""
    errors: dict[str, list[str]] = {}
    for name in DATE_FILTERS:
        value = values.get(name)
        if value is not None and not EARLIEST <= value <= LATEST:
            errors[name] = [
                _("Enter a date between %(start)s and %(end)s.")
                % {"start": EARLIEST, "end": LATEST}
            ]
    start, end = values.get("date_from"), values.get("date_to")
    if not errors and start is not None and end is not None and start > end:
        errors["date_to"] = [str(PERIOD_REVERSED)]
    return errors


# Each filter's lookup on a fracture, and on a summary row (which copies its procedure's
# and fracture's columns); the fracture filters on a procedure's summary row test its
# (type, site) bits instead (``summary_rows``).
FRACTURE, SUMMARY = 0, 1
_LOOKUPS: dict[str, tuple[str, str]] = {
    "department": ("procedure__patient__department", "department"),
    "date_from": ("procedure__started_on__gte", "started_on__gte"),
    "date_to": ("procedure__started_on__lte", "started_on__lte"),
    "guidance": ("procedure__guidance", "guidance"),
    "operator": ("procedure__operator__icontains", "operator__icontains"),
    "fracture_type": ("type", "type"),
    "site": ("site", "site"),
    # Only the verified cases (``registry.verification``); False or absent: every case.
    # On a per-fracture term row, through its fracture (``summary_rows``).
    "verified": ("procedure__verified_at__isnull", "procedure__verified_at__isnull"),
}
_FRACTURE_FILTERS = ("fracture_type", "site")


def _conditions(filters: Mapping[str, Any], table: int, *, with_fracture_filters: bool = True) -> Q:
    """The filters that are set, as one condition on fractures or on summary rows.
    ``operator`` matches case-insensitively within the free-text operator(s) field."""
    condition = Q()
    for name, value in selection_from(filters).items():
        if name in _FRACTURE_FILTERS and not with_fracture_filters:
            continue
        if name == "verified":
            if value:
                condition &= Q(**{_LOOKUPS[name][table]: False})
            continue
        value = value.strip() if name == "operator" else value
        condition &= Q(**{_LOOKUPS[name][table]: value})
    return condition


def department_visible(user: Any, department: Department | int | None) -> bool:
    """Whether the department filter names one of the user's departments (None: all of them)."""
    return department is None or visible_departments(user).filter(pk=department).exists()


def selected_fractures(  # type: ignore[no-untyped-def]
    *,
    user,
    department: Department | int | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    fracture_type: str | None = None,
    site: str | None = None,
    guidance: str | None = None,
    operator: str | None = None,
    verified: bool | None = None,
) -> QuerySet[Fracture]:
    """The fractures the filters select, scoped to the user's departments.

    Dates are procedure start dates in each procedure's department time zone
    (``Procedure.started_on``, indexed), both inclusive.
    ``operator`` matches case-insensitively within the free-text operator(s)
    field, which may name several people.
    """
    filters = {
        "department": department,
        "date_from": date_from,
        "date_to": date_to,
        "fracture_type": fracture_type,
        "site": site,
        "guidance": guidance,
        "operator": operator,
        "verified": verified,
    }
    return scope_to_user(Fracture.objects.all(), user).filter(_conditions(filters, FRACTURE))


def selected_procedures(user, fractures: QuerySet[Fracture]) -> QuerySet[Procedure]:  # type: ignore[no-untyped-def]
    return scope_to_user(Procedure.objects.all(), user).filter(
        pk__in=fractures.values("procedure_id")
    )


def summary_rows(model, *, user, **filters: Unpack[Selection]) -> QuerySet[Any]:  # type: ignore[no-untyped-def]
    """The rows of an outcome summary table (``complications.outcomes``) that the
    filters select, scoped to the user's departments: the same selection as
    ``selected_fractures``, on the columns the summary copies from the procedure
    and fracture. On the procedure tables, the fracture filters test the
    procedure's (type, site) bits: a procedure is selected when one of its
    fractures matches both."""
    rows = scope_to_user(model.objects.all(), user)
    per_fracture = model in (FractureOutcome, FractureTermOutcome)
    if model is FractureTermOutcome and filters.get("verified"):
        # Its one row without a procedure column: reached through its fracture.
        filters = {**filters, "verified": None}
        rows = rows.filter(fracture__procedure__verified_at__isnull=False)
    rows = rows.filter(_conditions(filters, SUMMARY, with_fracture_filters=per_fracture))
    if per_fracture:
        return rows
    fracture_type, site = filters.get("fracture_type") or None, filters.get("site") or None
    if fracture_type or site:
        # A procedure row is selected when one of its fractures matches both.
        bits = mask_bits(fracture_type=fracture_type, site=site)
        rows = rows.alias(matching=F("fractures_mask").bitand(bits)).filter(matching__gt=0)
    return rows


@dataclass(frozen=True)
class Units:
    """Where one unit's evidence is: the summary rows, the lookup that names the
    unit in a row, and whether a unit spans several rows (a patient spans their
    procedures; a fracture or a procedure is one row, so it counts without
    DISTINCT); the same for the per-term rows.
    """

    rows: QuerySet[Any]
    key: str
    distinct: bool
    term_rows: QuerySet[Any]
    term_key: str


def unit_rows(user, unit: str, filters: Selection) -> Units:  # type: ignore[no-untyped-def]
    if unit == "fracture":
        return Units(
            summary_rows(FractureOutcome, user=user, **filters),
            "pk",
            False,
            summary_rows(FractureTermOutcome, user=user, **filters),
            "fracture_id",
        )
    if unit in ("procedure", "patient"):
        return Units(
            summary_rows(ProcedureOutcome, user=user, **filters),
            "pk" if unit == "procedure" else "patient_id",
            unit == "patient",
            summary_rows(ProcedureTermOutcome, user=user, **filters),
            "procedure_id" if unit == "procedure" else "patient_id",
        )
    raise ValueError(f"unknown unit {unit!r}; expected one of {', '.join(UNITS)}")
