"""The querysets that compute each per-unit summary table's rows from the clinical tables."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import models
from django.db.models import (
    BigIntegerField,
    Case,
    Exists,
    F,
    Max,
    OuterRef,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from complications.counting import contact_evidence, highest_grade
from complications.models import (
    ComplicationEvent,
    FractureOutcome,
    FractureTermOutcome,
    ProcedureOutcome,
    ProcedureTermOutcome,
    Window,
)
from complications.outcomes.layout import pair_bit
from complications.pigsf_lookups import pigsf_event_code
from registry.models import FollowUp, Fracture, Procedure


def _grades(path: str) -> dict[str, Coalesce]:
    return {f"grade_{window}": highest_grade(path, window) for window in Window.values}


def _contacts(contacts: QuerySet[FollowUp], ended_at: str) -> dict[str, Exists]:
    return contact_evidence(contacts, OuterRef(ended_at))


def _selection(procedure: str) -> dict[str, F]:
    return {
        "department_id": F(f"{procedure}patient__department_id"),
        "started_at": F(f"{procedure}started_at"),
        "started_on": F(f"{procedure}started_on"),
        "guidance": F(f"{procedure}guidance"),
        "operator": F(f"{procedure}operator"),
    }


def _fracture_rows(procedure_ids: list[int] | None) -> QuerySet[Any]:
    rows = Fracture.objects.all()
    if procedure_ids is not None:
        rows = rows.filter(procedure_id__in=procedure_ids)
    contacts = FollowUp.objects.filter(fractures=OuterRef("pk"))
    return (
        rows.values("pk")
        .annotate(
            **_selection("procedure__"),
            **_contacts(contacts, "procedure__ended_at"),
            **_grades("complications__"),
            procedure_id_=F("procedure_id"),
            patient_id=F("procedure__patient_id"),
            type_=F("type"),
            site_=F("site"),
        )
        .order_by()
    )


def _procedure_rows(procedure_ids: list[int] | None) -> QuerySet[Any]:
    rows = Procedure.objects.all()
    if procedure_ids is not None:
        rows = rows.filter(pk__in=procedure_ids)
    contacts = FollowUp.objects.filter(procedure=OuterRef("pk"))
    # The mask comes from a subquery so that the complications' join does not
    # multiply the fractures (a sum of distinct bits is their bitwise OR).
    mask = (
        Fracture.objects.filter(procedure=OuterRef("pk"))
        .order_by()
        .values("procedure")
        .annotate(mask=Sum(pair_bit("type", "site"), distinct=True))
        .values("mask")
    )
    return (
        rows.annotate(fractures_mask=models.Subquery(mask, output_field=BigIntegerField()))
        .filter(fractures_mask__gt=0)
        .values("pk")
        .annotate(
            **_selection(""),
            **_contacts(contacts, "ended_at"),
            **_grades("complications__"),
            patient_id_=F("patient_id"),
            fractures_mask_=F("fractures_mask"),
        )
        .order_by()
    )


def _term(path: str, per_soc: bool) -> F | Value:
    """The term of a per-term row; none on a per-SOC row (grouped by SOC only)."""
    return Value(None, output_field=models.CharField()) if per_soc else F(path)


def _pigsf_event(path: str, per_soc: bool) -> Case | Value:
    """The screw-fixation event of a per-term row (part of its term: each event
    counts as a term of its own); none on a per-SOC row."""
    return Value("", output_field=models.CharField()) if per_soc else pigsf_event_code(path)


def _term_values(event: str, per_soc: bool, *, suffix: str = "") -> dict[str, Any]:
    """A per-term row's window, term, event, SOC and highest grade, from the complications
    at ``event``; ``suffix`` keeps the names apart from the complication's own fields."""
    return {
        f"window{suffix}": F(f"{event}window"),
        f"term_id{suffix}": _term(f"{event}term_id", per_soc),
        f"pigsf_event{suffix}": _pigsf_event(event, per_soc),
        "soc": F(f"{event}term__soc"),
        f"grade{suffix}": Max(f"{event}grade"),
    }


def _fracture_term_rows(procedure_ids: list[int] | None, *, per_soc: bool) -> QuerySet[Any]:
    links = ComplicationEvent.fractures.through.objects.all()
    if procedure_ids is not None:
        links = links.filter(fracture__procedure_id__in=procedure_ids)
    return (
        links.values("fracture_id")
        .annotate(
            **_selection("fracture__procedure__"),
            **_term_values("complicationevent__", per_soc),
            procedure_id=F("fracture__procedure_id"),
            type=F("fracture__type"),
            site=F("fracture__site"),
        )
        .order_by()
    )


def _procedure_term_rows(procedure_ids: list[int] | None, *, per_soc: bool) -> QuerySet[Any]:
    events = ComplicationEvent.objects.all()
    if procedure_ids is not None:
        events = events.filter(procedure_id__in=procedure_ids)
    return (
        events.values("procedure_id")
        .annotate(
            **_selection("procedure__"),
            **_term_values("", per_soc, suffix="_"),
            patient_id=F("procedure__patient_id"),
            fractures_mask=F("procedure__outcome__fractures_mask"),
        )
        # Only procedures with a fracture are in a selection (and have a mask).
        .filter(fractures_mask__isnull=False)
        .order_by()
    )


# Each table, the querysets that compute its rows, and their output names for
# the table's columns.
_FRACTURE_TERM_COLUMNS = [
    ("fracture_id", "fracture_id"),
    ("department_id", "department_id"),
    ("started_at", "started_at"),
    ("started_on", "started_on"),
    ("guidance", "guidance"),
    ("operator", "operator"),
    ("window", "window"),
    ("term_id", "term_id"),
    ("pigsf_event", "pigsf_event"),
    ("soc", "soc"),
    ("grade", "grade"),
    ("procedure_id", "procedure_id"),
    ("type", "type"),
    ("site", "site"),
]
_PROCEDURE_TERM_COLUMNS = [
    ("procedure_id", "procedure_id"),
    ("department_id", "department_id"),
    ("started_at", "started_at"),
    ("started_on", "started_on"),
    ("guidance", "guidance"),
    ("operator", "operator"),
    ("window", "window_"),
    ("term_id", "term_id_"),
    ("pigsf_event", "pigsf_event_"),
    ("soc", "soc"),
    ("grade", "grade_"),
    ("patient_id", "patient_id"),
    ("fractures_mask", "fractures_mask"),
]
UNIT_TABLES: list[tuple[type[models.Model], list[tuple[Any, list[tuple[str, str]]]]]] = [
    (
        FractureOutcome,
        [
            (
                _fracture_rows,
                [
                    ("fracture_id", "pk"),
                    ("department_id", "department_id"),
                    ("started_at", "started_at"),
                    ("started_on", "started_on"),
                    ("guidance", "guidance"),
                    ("operator", "operator"),
                    ("contact_after_end", "contact_after_end"),
                    ("contact_beyond_24h", "contact_beyond_24h"),
                    *[(f"grade_{w}", f"grade_{w}") for w in Window.values],
                    ("procedure_id", "procedure_id_"),
                    ("patient_id", "patient_id"),
                    ("type", "type_"),
                    ("site", "site_"),
                ],
            )
        ],
    ),
    (
        ProcedureOutcome,
        [
            (
                _procedure_rows,
                [
                    ("procedure_id", "pk"),
                    ("department_id", "department_id"),
                    ("started_at", "started_at"),
                    ("started_on", "started_on"),
                    ("guidance", "guidance"),
                    ("operator", "operator"),
                    ("contact_after_end", "contact_after_end"),
                    ("contact_beyond_24h", "contact_beyond_24h"),
                    *[(f"grade_{w}", f"grade_{w}") for w in Window.values],
                    ("patient_id", "patient_id_"),
                    ("fractures_mask", "fractures_mask_"),
                ],
            )
        ],
    ),
    (
        FractureTermOutcome,
        [
            (partial(_fracture_term_rows, per_soc=False), _FRACTURE_TERM_COLUMNS),
            (partial(_fracture_term_rows, per_soc=True), _FRACTURE_TERM_COLUMNS),
        ],
    ),
    (
        ProcedureTermOutcome,
        [
            (partial(_procedure_term_rows, per_soc=False), _PROCEDURE_TERM_COLUMNS),
            (partial(_procedure_term_rows, per_soc=True), _PROCEDURE_TERM_COLUMNS),
        ],
    ),
]


# --- the monthly rollup ------------------------------------------------------------
