"""The two tables, cases (one row per fracture) and complications (one row per
complication): their columns and the rules of their rows, shared by every
format that writes them (CSV, its PostgreSQL variant, XLSX) and by the FHIR
Bundle, which is built from the same rows.

De-identification
-----------------
Never a birth date in a table: the age at the procedure in whole years (on the
procedure's local date in its department's time zone). The registry id only
for a user holding ``registry.export_identifiers``. Without it the patient is
identified by the registry's internal id (``patient_id``): the rows already
carry internal procedure and fracture ids, which are what joins the cases
table, the complications table and the Bundle, so a per-export pseudonym for
the patient alone would protect nothing while breaking those joins; an
internal id means nothing outside the registry. Free text that may name
people (the description, the override reason) is left out.

Memory
------
Every query is iterated with ``.iterator(chunk_size=CHUNK)`` (a server-side
cursor on PostgreSQL) and the fractures of each chunk of complications come in
one more query, so memory stays flat and the number of queries grows with
rows / CHUNK, never with rows.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import F, OuterRef, QuerySet

from complications.counting import contact_evidence, highest_grade_of
from complications.ctcae import severity_for
from complications.ctcae.pigsf import event_of
from complications.exports.codebook import CASE_VARIABLES, COMPLICATION_VARIABLES
from complications.exports.selection import Selection
from complications.models import ComplicationEvent, ExportJob, Window
from registry.models import FollowUp

CHUNK = 2000
WINDOWS: tuple[str, ...] = tuple(Window.values)  # per_procedural, early, delayed

Cell = str | int | float | bool | None
Row = dict[str, Any]


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def batched(iterable: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of ``size`` items; the previous list is let go before the next is
    read, so two batches are never held at once."""
    iterator = iter(iterable)
    while True:
        batch = list(islice(iterator, size))
        if not batch:
            return
        yield batch
        del batch


def fractures_of(links: QuerySet[Any], record: str, ids: list[int]) -> dict[int, list[int]]:
    """The fractures each of the records ``ids`` concerns, in fracture order, from a
    record-to-fracture link table (``record`` names the link's record column)."""
    found: dict[int, list[int]] = defaultdict(list)
    pairs = (
        links.filter(**{f"{record}__in": ids})
        .order_by("fracture_id")
        .values_list(record, "fracture_id")
    )
    for record_id, fracture_id in pairs:
        found[record_id].append(fracture_id)
    return found


# --- the cases table: one row per fracture -------------------------------------------

# The fracture's own fields and its evidence of follow-up, exported under their names.
_CASE_FIELDS = (
    "side",
    "aetiology",
    "screws",
    "cement_augmented",
    "contact_after_end",
    "contact_beyond_24h",
)

# The columns are the codebook's variables (``codebook``): none without its entry.
CASE_COLUMNS = [variable.name for variable in CASE_VARIABLES]

_CASE_VALUES = (
    "pk",
    "procedure_id",
    "procedure__patient_id",
    "procedure__patient__registry_id",
    "procedure__patient__department__code",
    "procedure__patient__department__time_zone",
    "procedure__patient__sex",
    "procedure__patient__birth_date",
    "procedure__started_at",
    "procedure__started_on",
    "procedure__ended_at",
    "procedure__guidance",
    "procedure__anesthesia",
    "procedure__operator",
    "type",
    "site",
    *_CASE_FIELDS,
    *(f"max_{w}" for w in WINDOWS),
)


def _shown(columns: list[str], selection: Selection) -> list[str]:
    """The registry id is a column only for a user holding the identifiers permission."""
    return [c for c in columns if selection.identifiers or c != "registry_id"]


def case_columns(selection: Selection) -> list[str]:
    return _shown(CASE_COLUMNS, selection)


def case_values(selection: Selection, *order_by: str) -> Iterator[dict[str, Any]]:
    """The selected fractures with their procedure, patient and evidence, in
    one streamed query.

    ``max_<window>``: the highest grade of the complications in that window
    that concern the fracture (null: none); ``contact_after_end`` and
    ``contact_beyond_24h``: a follow-up contact covering it strictly after the
    procedure end, and more than 24 hours after it (docs/domain.md section 4).
    """
    events = ComplicationEvent.objects.filter(fractures=OuterRef("pk"))
    contacts = FollowUp.objects.filter(fractures=OuterRef("pk"))
    highest = {f"max_{window}": highest_grade_of(events, window) for window in WINDOWS}
    fractures = selection.fractures().annotate(
        **highest,
        **contact_evidence(contacts, F("procedure__ended_at")),
    )
    return fractures.values(*_CASE_VALUES).order_by(*order_by).iterator(chunk_size=CHUNK)


def case_row(raw: Mapping[str, Any], selection: Selection) -> Row:
    zone = _zone(raw["procedure__patient__department__time_zone"])
    started = raw["procedure__started_at"].astimezone(zone)
    row: Row = {
        "fracture_id": raw["pk"],
        "procedure_id": raw["procedure_id"],
        "patient_id": raw["procedure__patient_id"],
        "department": raw["procedure__patient__department__code"],
        "sex": raw["procedure__patient__sex"],
        "age_at_procedure": _age(
            raw["procedure__patient__birth_date"], raw["procedure__started_on"]
        ),
        "procedure_started_at": started,
        "procedure_ended_at": raw["procedure__ended_at"].astimezone(zone),
        "guidance": raw["procedure__guidance"],
        "anesthesia": raw["procedure__anesthesia"],
        "operator": raw["procedure__operator"],
        "fracture_type": raw["type"],
        "site": raw["site"],
        "side": raw["side"],
        "aetiology": raw["aetiology"],
        "screws": raw["screws"],
        "cement_augmented": raw["cement_augmented"],
        "contact_after_end": raw["contact_after_end"],
        "contact_beyond_24h": raw["contact_beyond_24h"],
    }
    for window in WINDOWS:
        highest = raw[f"max_{window}"]
        row[f"{window}_complication"] = highest is not None
        row[f"{window}_max_grade"] = highest
    if selection.identifiers:
        row["registry_id"] = raw["procedure__patient__registry_id"]
    return row


def case_rows(selection: Selection) -> Iterator[Row]:
    """One row per selected fracture, in procedure order."""
    for raw in case_values(selection, "procedure__started_at", "procedure_id", "pk"):
        yield case_row(raw, selection)


# --- the complications table: one row per complication --------------------------------

# The complication's own fields, exported under their names and read as they are.
_COMPLICATION_FIELDS = (
    "onset_at",
    "onset_date",
    "during_procedure",
    "window",
    "hours_after_end",
    "facts",
    "auto_grade",
    "grade_override",
    "grade",
)
_COMPLICATION_OUTCOME_FIELDS = ("outcome", "relatedness", "cirse_grade", "sir_class")

COMPLICATION_COLUMNS = [variable.name for variable in COMPLICATION_VARIABLES]

_COMPLICATION_VALUES = (
    "pk",
    "procedure_id",
    "procedure__patient_id",
    "procedure__patient__registry_id",
    "procedure__patient__department__code",
    "procedure__patient__department__time_zone",
    "term_id",
    "term__name",
    "term__soc",
    "specify",
    *_COMPLICATION_FIELDS,
    "grade_rationale",
    *_COMPLICATION_OUTCOME_FIELDS,
)


def complication_columns(selection: Selection) -> list[str]:
    return _shown(COMPLICATION_COLUMNS, selection)


def complication_rows(selection: Selection) -> Iterator[Row]:
    """One row per complication concerning a selected fracture, in procedure order.

    The fractures of each chunk of complications come in one query, so the
    number of queries is 1 + rows / CHUNK.
    """
    events = (
        selection.complications()
        .values(*_COMPLICATION_VALUES)
        .order_by("procedure__started_at", "procedure_id", "pk")
        .iterator(chunk_size=CHUNK)
    )
    links = selection.links()
    for chunk in batched(events, CHUNK):
        concerned = fractures_of(links, "complicationevent_id", [raw["pk"] for raw in chunk])
        for raw in chunk:
            yield _complication_row(raw, concerned[raw["pk"]], selection)
        del chunk, concerned  # before ``batched`` reads the next chunk


def _complication_row(raw: Mapping[str, Any], fracture_ids: list[int], selection: Selection) -> Row:
    zone = _zone(raw["procedure__patient__department__time_zone"])
    row: Row = {
        "complication_id": raw["pk"],
        "procedure_id": raw["procedure_id"],
        "patient_id": raw["procedure__patient_id"],
        "department": raw["procedure__patient__department__code"],
        "fracture_ids": fracture_ids,
        "term": raw["term_id"],
        "term_name": raw["term__name"],
        "soc": raw["term__soc"],
        "specify": raw["specify"],
        "pigsf_event": pigsf_event.code
        if (pigsf_event := event_of(raw["term_id"], raw["specify"]))
        else None,
        "onset_at": raw["onset_at"].astimezone(zone) if raw["onset_at"] else None,
        "onset_date": raw["onset_date"],
        "during_procedure": raw["during_procedure"],
        "window": raw["window"],
        "hours_after_end": raw["hours_after_end"],
        "facts": raw["facts"],
        "auto_grade": raw["auto_grade"],
        "grade_override": raw["grade_override"],
        "grade": raw["grade"],
        "severity": severity_for(raw["grade"]),
        "grade_rationale": raw["grade_rationale"],
        "outcome": raw["outcome"],
        "relatedness": raw["relatedness"],
        "cirse_grade": raw["cirse_grade"],
        "sir_class": raw["sir_class"],
    }
    if selection.identifiers:
        row["registry_id"] = raw["procedure__patient__registry_id"]
    return row


# --- both tables -----------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    columns: Callable[[Selection], list[str]]
    rows: Callable[[Selection], Iterator[Row]]
    count: Callable[[Selection], int]


TABLES: dict[str, Table] = {
    ExportJob.Kind.CASES: Table(case_columns, case_rows, lambda s: s.fractures().count()),
    ExportJob.Kind.COMPLICATIONS: Table(
        complication_columns, complication_rows, lambda s: s.complications().count()
    ),
}


def cell_text(value: Any) -> Cell:
    """A cell as text-friendly scalars: lists joined by ';', objects as JSON,
    datetimes in ISO 8601 with their offset (spreadsheets have no time zones)."""
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    return value
