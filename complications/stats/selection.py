"""The selection: the filters every statistic takes, and the summary rows they select."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, TypedDict, Unpack

from django.db.models import F, QuerySet

from complications.models import (
    FractureOutcome,
    FractureTermOutcome,
    ProcedureOutcome,
    ProcedureTermOutcome,
    Window,
)
from complications.outcomes.layout import mask_bits
from registry.models import Department, Fracture, Procedure
from registry.scoping import scope_to_user

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
) -> QuerySet[Fracture]:
    """The fractures the filters select, scoped to the user's departments.

    Dates are procedure start dates in each procedure's department time zone
    (``Procedure.started_on``, indexed), both inclusive.
    ``operator`` matches case-insensitively within the free-text operator(s)
    field, which may name several people.
    """
    fractures = scope_to_user(Fracture.objects.all(), user)
    if department is not None:
        fractures = fractures.filter(procedure__patient__department=department)
    if date_from is not None:
        fractures = fractures.filter(procedure__started_on__gte=date_from)
    if date_to is not None:
        fractures = fractures.filter(procedure__started_on__lte=date_to)
    if guidance:
        fractures = fractures.filter(procedure__guidance=guidance)
    if operator:
        fractures = fractures.filter(procedure__operator__icontains=operator.strip())
    if fracture_type:
        fractures = fractures.filter(type=fracture_type)
    if site:
        fractures = fractures.filter(site=site)
    return fractures


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
    if (department := filters.get("department")) is not None:
        rows = rows.filter(department=department)
    if (date_from := filters.get("date_from")) is not None:
        rows = rows.filter(started_on__gte=date_from)
    if (date_to := filters.get("date_to")) is not None:
        rows = rows.filter(started_on__lte=date_to)
    if guidance := filters.get("guidance"):
        rows = rows.filter(guidance=guidance)
    if operator := filters.get("operator"):
        rows = rows.filter(operator__icontains=operator.strip())
    fracture_type, site = filters.get("fracture_type") or None, filters.get("site") or None
    if fracture_type or site:
        if model in (FractureOutcome, FractureTermOutcome):
            rows = rows.filter(**({"type": fracture_type} if fracture_type else {}))
            rows = rows.filter(**({"site": site} if site else {}))
        else:
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
