"""Exports: the cases and complications tables (CSV, XLSX), an HL7 FHIR R4 Bundle,
and the background export jobs that write them to files.

No HTTP here: the API and the pages call these functions, the Celery task calls
``export_job_run``.

The selection
-------------
The filters are those of the statistics (department, date_from, date_to,
fracture_type, site, guidance, operator) and select the same fractures, through
the statistics' own selection (``complications.selectors``), so that an export
always holds the cases behind the rates on the dashboard. A complication is
exported when it concerns at least one selected fracture, and lists only the
selected fractures it concerns (so every fracture id it names is a row of the
cases table and a Condition of the Bundle).
Everything starts from ``registry.scoping.scope_to_user``; a job is further
limited to the departments its owner could see when asking.

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

Text cells that a spreadsheet would take for a formula (beginning with "=",
"+", "-", "@", a tab or a carriage return) are written behind a "'" in CSV and
with Excel's quote prefix in XLSX (``registry.spreadsheets``, the one rule);
numbers, negative ones included, stay numbers.

Memory
------
Every query is iterated with ``.iterator(chunk_size=CHUNK)`` (a server-side
cursor on PostgreSQL) and the fractures of each chunk of complications come in
one more query, so memory stays flat and the number of queries grows with
rows / CHUNK, never with rows. The FHIR Bundle is streamed entry by entry: the
envelope and every entry are built and validated by the ``fhir.resources``
models, only the list that joins them is written by hand.

FHIR mapping (R4; the ``fhir.resources.R4B`` models, identical to R4 for the
four resources used)
-------------------------------------------------------------------------
- Patient: gender; no name. ``birthDate`` and the registry id (``identifier``)
  only with the identifiers permission; otherwise the age is carried by each
  Procedure (``age-at-procedure`` extension, UCUM years), like the tables.
- Procedure: status completed, code text "Percutaneous image-guided screw
  fixation" (no SNOMED CT code: none we could vouch for names this exact
  procedure), performedPeriod, performer display (operator initials),
  reasonReference to the fracture Conditions, extensions for the imaging
  guidance and the anaesthesia.
- Condition: one per fracture; category encounter-diagnosis, verification
  confirmed, code text "<Type> fracture of <site> (<aetiology>)" with a registry coding of
  the type, bodySite text "<Site>, <side>" with a registry coding of the site.
- AdverseEvent: one per complication; actuality actual; event = the CTCAE v5.0
  term as a MedDRA coding (``https://www.meddra.org``, the HL7 terminology's
  canonical MedDRA URI; the term code is its MedDRA code); severity from
  adverse-event-severity: grade 1 mild, 2 moderate, 3-5 severe, with the text
  "CTCAE v5.0 grade N"; seriousness serious for major (grade 3-5), non-serious
  for minor; the CTCAE grade itself in the ``ctcae-grade`` extension
  (valueInteger, since the R4 severity value set cannot hold five grades) and
  the timing window in ``complication-window``; date = the onset (a date-only
  onset as a date; none for "during the procedure"); outcome mapped to
  adverse-event-outcome; suspectEntity = the Procedure, with the relatedness
  as the causality assessment's text; subjectMedicalHistory = the fracture
  Conditions it concerns.
- References are ``urn:uuid:`` fullUrls, UUIDs derived from a random
  per-export namespace: stable within one Bundle (no map held in memory),
  unrelated between two exports.
The registry's own extensions and code systems are named under
``REGISTRY_FHIR`` (a URN until the registry publishes its definitions).
"""

from __future__ import annotations

import csv
import json
import logging
import os
import tempfile
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from itertools import islice
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from django.db import OperationalError, transaction
from django.db.models import Count, Exists, F, IntegerField, OuterRef, QuerySet, Subquery
from django.utils import timezone
from fhir.resources.R4B.adverseevent import AdverseEvent
from fhir.resources.R4B.bundle import Bundle, BundleEntry
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.procedure import Procedure as FhirProcedure
from fhir.resources.R4B.resource import Resource
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from complications.ctcae import MAJOR_GRADE
from complications.ctcae.pigsf import event_of
from complications.models import ComplicationEvent, ExportJob, Outcome, Window
from complications.selectors import selected_fractures
from registry import spreadsheets
from registry.models import (
    Aetiology,
    Anesthesia,
    FollowUp,
    Fracture,
    FractureType,
    Guidance,
    Side,
    Site,
)
from registry.roles import EXPORT_IDENTIFIERS
from registry.scoping import scope_to_user, visible_departments

logger = logging.getLogger(__name__)

EXPORT_DATA = "registry.export_data"
CHUNK = 2000
FILTER_NAMES = (
    "department",
    "date_from",
    "date_to",
    "fracture_type",
    "site",
    "guidance",
    "operator",
)
DATE_FILTERS = ("date_from", "date_to")
WINDOWS: tuple[str, ...] = tuple(Window.values)  # per_procedural, early, delayed
DAY = timedelta(hours=24)

Cell = str | int | float | bool | None
Row = dict[str, Any]
Tick = Callable[[], None]

# --- the selection -----------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """What an export covers (the user's scope, the filters, a job's frozen
    departments) and how much it may reveal (``identifiers``)."""

    user: Any
    filters: Mapping[str, Any] = field(default_factory=dict)
    departments: tuple[int, ...] | None = None
    identifiers: bool = False

    @classmethod
    def for_user(
        cls,
        user: Any,
        filters: Mapping[str, Any] | None = None,
        departments: Iterable[int] | None = None,
    ) -> Selection:
        return cls(
            user=user,
            filters={k: v for k, v in (filters or {}).items() if v not in (None, "")},
            departments=tuple(departments) if departments is not None else None,
            identifiers=user.has_perm(EXPORT_IDENTIFIERS),
        )

    def fractures(self) -> QuerySet[Fracture]:
        fractures = selected_fractures(user=self.user, **self.filters)
        if self.departments is not None:
            fractures = fractures.filter(procedure__patient__department__in=self.departments)
        return fractures

    def complications(self) -> QuerySet[ComplicationEvent]:
        return scope_to_user(ComplicationEvent.objects.all(), self.user).filter(
            pk__in=self.links().values("complicationevent_id")
        )

    def links(self) -> QuerySet[Any]:
        """The complication-fracture links of the selected fractures."""
        return ComplicationEvent.fractures.through.objects.filter(fracture__in=self.fractures())


def filters_to_json(filters: Mapping[str, Any]) -> dict[str, Any]:
    """Validated filters as stored on a job (dates as ISO strings; unset ones dropped)."""
    return {
        name: value.isoformat() if isinstance(value, date) else value
        for name, value in filters.items()
        if name in FILTER_NAMES and value not in (None, "")
    }


def filters_from_json(data: Mapping[str, Any]) -> dict[str, Any]:
    """A job's stored filters back as selector arguments."""
    return {
        name: date.fromisoformat(value) if name in DATE_FILTERS else value
        for name, value in data.items()
        if name in FILTER_NAMES
    }


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _batched(iterable: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of ``size`` items; the previous list is let go before the next is
    read, so two batches are never held at once."""
    iterator = iter(iterable)
    while True:
        batch = list(islice(iterator, size))
        if not batch:
            return
        yield batch
        del batch


# --- the cases table: one row per fracture -------------------------------------------

CASE_COLUMNS = [
    "fracture_id",
    "procedure_id",
    "patient_id",
    "registry_id",
    "department",
    "sex",
    "age_at_procedure",
    "procedure_started_at",
    "procedure_ended_at",
    "guidance",
    "anesthesia",
    "operator",
    "fracture_type",
    "site",
    "side",
    "aetiology",
    "screws",
    "cement_augmented",
    "contact_after_end",
    "contact_beyond_24h",
    *(f"{w}_{suffix}" for w in WINDOWS for suffix in ("complication", "max_grade")),
]

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
    "side",
    "aetiology",
    "screws",
    "cement_augmented",
    "contact_after_end",
    "contact_beyond_24h",
    *(f"max_{w}" for w in WINDOWS),
)


def case_columns(selection: Selection) -> list[str]:
    return [c for c in CASE_COLUMNS if selection.identifiers or c != "registry_id"]


def _case_values(selection: Selection, *order_by: str) -> Iterator[dict[str, Any]]:
    """The selected fractures with their procedure, patient and evidence, in
    one streamed query.

    ``max_<window>``: the highest grade of the complications in that window
    that concern the fracture (null: none); ``contact_after_end`` and
    ``contact_beyond_24h``: a follow-up contact covering it strictly after the
    procedure end, and more than 24 hours after it (docs/domain.md section 4).
    """
    events = ComplicationEvent.objects.filter(fractures=OuterRef("pk"))
    contacts = FollowUp.objects.filter(fractures=OuterRef("pk"))
    highest = {
        f"max_{window}": Subquery(
            events.filter(window=window).order_by("-grade").values("grade")[:1],
            output_field=IntegerField(),
        )
        for window in WINDOWS
    }
    fractures = selection.fractures().annotate(
        **highest,
        contact_after_end=Exists(contacts.filter(contact_at__gt=F("procedure__ended_at"))),
        contact_beyond_24h=Exists(contacts.filter(contact_at__gt=F("procedure__ended_at") + DAY)),
    )
    return fractures.values(*_CASE_VALUES).order_by(*order_by).iterator(chunk_size=CHUNK)


def _case_row(raw: Mapping[str, Any], selection: Selection) -> Row:
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
    for raw in _case_values(selection, "procedure__started_at", "procedure_id", "pk"):
        yield _case_row(raw, selection)


# --- the complications table: one row per complication --------------------------------

COMPLICATION_COLUMNS = [
    "complication_id",
    "procedure_id",
    "patient_id",
    "registry_id",
    "department",
    "fracture_ids",
    "term",
    "term_name",
    "soc",
    "specify",
    "pigsf_event",
    "onset_at",
    "onset_date",
    "during_procedure",
    "window",
    "hours_after_end",
    "facts",
    "auto_grade",
    "grade_override",
    "grade",
    "severity",
    "grade_rationale",
    "outcome",
    "relatedness",
    "cirse_grade",
    "sir_class",
]

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
    "onset_at",
    "onset_date",
    "during_procedure",
    "window",
    "hours_after_end",
    "facts",
    "auto_grade",
    "grade_override",
    "grade",
    "grade_rationale",
    "outcome",
    "relatedness",
    "cirse_grade",
    "sir_class",
)


def complication_columns(selection: Selection) -> list[str]:
    return [c for c in COMPLICATION_COLUMNS if selection.identifiers or c != "registry_id"]


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
    for chunk in _batched(events, CHUNK):
        concerned: dict[int, list[int]] = defaultdict(list)
        pairs = (
            links.filter(complicationevent_id__in=[raw["pk"] for raw in chunk])
            .order_by("fracture_id")
            .values_list("complicationevent_id", "fracture_id")
        )
        for event_id, fracture_id in pairs:
            concerned[event_id].append(fracture_id)
        for raw in chunk:
            yield _complication_row(raw, concerned[raw["pk"]], selection)
        del chunk, concerned  # before ``_batched`` reads the next chunk


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
        "severity": "major" if raw["grade"] >= MAJOR_GRADE else "minor",
        "grade_rationale": raw["grade_rationale"],
        "outcome": raw["outcome"],
        "relatedness": raw["relatedness"],
        "cirse_grade": raw["cirse_grade"],
        "sir_class": raw["sir_class"],
    }
    if selection.identifiers:
        row["registry_id"] = raw["procedure__patient__registry_id"]
    return row


# --- tables: CSV and XLSX -------------------------------------------------------------

TABLES: dict[str, tuple[Callable[[Selection], list[str]], Callable[[Selection], Iterator[Row]]]] = {
    ExportJob.Kind.CASES: (case_columns, case_rows),
    ExportJob.Kind.COMPLICATIONS: (complication_columns, complication_rows),
}


def _text(value: Any) -> Cell:
    """A cell as text-friendly scalars: lists joined by ';', objects as JSON,
    datetimes in ISO 8601 with their offset (spreadsheets have no time zones)."""
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    return value


def _csv_cell(value: Any) -> Cell:
    value = _text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else spreadsheets.csv_text(value)


class _Line:
    """The file-like object ``csv.writer`` writes one line into, so each row can be yielded."""

    def write(self, value: str) -> str:
        return value


def csv_chunks(
    columns: list[str], rows: Iterable[Row], *, tick: Tick | None = None, flush_at: int = 64 * 1024
) -> Iterator[str]:
    """The header, then the rows, as strings of about ``flush_at`` characters."""
    writer = csv.writer(_Line())
    buffer = [writer.writerow(columns)]
    size = len(buffer[0])
    for row in rows:
        line = writer.writerow([_csv_cell(row.get(c)) for c in columns])
        buffer.append(line)
        size += len(line)
        if tick:
            tick()
        if size >= flush_at:
            yield "".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer)


def table_csv(kind: str, selection: Selection, *, tick: Tick | None = None) -> Iterator[str]:
    columns, rows = TABLES[kind]
    return csv_chunks(columns(selection), rows(selection), tick=tick)


def stream_table_csv(kind: str, selection: Selection) -> Iterator[str]:
    """The CSV table of a streamed download: formatted by PostgreSQL when the
    database is PostgreSQL (``complications.exports_sql``: the same bytes, several
    times faster), by ``table_csv`` otherwise."""
    from complications import exports_sql

    if exports_sql.supported():
        return exports_sql.table_csv(kind, selection)
    return table_csv(kind, selection)


def write_csv(path: Path, selection: Selection, *, kind: str, tick: Tick | None = None) -> None:
    with open(path, "w", encoding="utf-8", newline="") as out:
        for chunk in table_csv(kind, selection, tick=tick):
            out.write(chunk)


def write_xlsx(path: Path, selection: Selection, *, tick: Tick | None = None) -> None:
    """Both tables in one workbook (sheets "cases" and "complications").

    openpyxl's write-only mode streams rows to disk instead of holding the
    sheets in memory.
    """
    workbook = Workbook(write_only=True)
    for kind, (columns, rows) in TABLES.items():
        sheet = workbook.create_sheet(title=str(kind))
        names = columns(selection)
        sheet.append(names)
        for row in rows(selection):
            sheet.append([_xlsx_cell(sheet, _text(row.get(c))) for c in names])
            if tick:
                tick()
    workbook.save(path)


def _xlsx_cell(sheet: Any, value: Cell) -> Any:
    """Text stays text: characters XML cannot hold are dropped, and text that looks
    like a formula (an operator's or a rationale's free text) is a string cell with
    the quote prefix, never a formula (openpyxl would store "=..." as one)."""
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if not spreadsheets.formula_like(value):
        return value
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    cell.quotePrefix = True
    return cell


# --- FHIR R4 -------------------------------------------------------------------------

REGISTRY_FHIR = "urn:pigsf-registry:fhir"
MEDDRA = "https://www.meddra.org"
UCUM = "http://unitsofmeasure.org"
THO = "http://terminology.hl7.org/CodeSystem"
PROCEDURE_TEXT = "Percutaneous image-guided screw fixation"
FHIR_SEVERITY = {1: "mild", 2: "moderate", 3: "severe", 4: "severe", 5: "severe"}
FHIR_OUTCOME = {
    Outcome.RESOLVED: "resolved",
    Outcome.RESOLVED_WITH_SEQUELAE: "resolvedWithSequelae",
    Outcome.ONGOING: "ongoing",
    Outcome.DEATH: "fatal",
}


def _extension(name: str, **value: Any) -> dict[str, Any]:
    return {"url": f"{REGISTRY_FHIR}:StructureDefinition:{name}", **value}


def _registry_coding(system: str, code: str, display: Any) -> dict[str, str]:
    return {"system": f"{REGISTRY_FHIR}:CodeSystem:{system}", "code": code, "display": str(display)}


class _FhirIds:
    """``urn:uuid:`` names derived from a random per-export namespace."""

    def __init__(self) -> None:
        self.namespace = uuid.uuid4()

    def id(self, resource_type: str, pk: int) -> str:
        return str(uuid.uuid5(self.namespace, f"{resource_type}/{pk}"))

    def ref(self, resource_type: str, pk: int) -> dict[str, str]:
        return {"reference": f"urn:uuid:{self.id(resource_type, pk)}"}


def _patient(raw: Mapping[str, Any], ids: _FhirIds, selection: Selection) -> Patient:
    values: dict[str, Any] = {
        "id": ids.id("Patient", raw["procedure__patient_id"]),
        "gender": raw["procedure__patient__sex"],
    }
    if selection.identifiers:
        department = quote(raw["procedure__patient__department__code"], safe="")
        values["birthDate"] = raw["procedure__patient__birth_date"].isoformat()
        values["identifier"] = [
            {
                "system": f"{REGISTRY_FHIR}:department:{department}:registry-id",
                "value": raw["procedure__patient__registry_id"],
            }
        ]
    return Patient(**values)


def _procedure(case: Row, fracture_ids: list[int], ids: _FhirIds) -> FhirProcedure:
    values: dict[str, Any] = {
        "id": ids.id("Procedure", case["procedure_id"]),
        "status": "completed",
        "code": {"text": PROCEDURE_TEXT},
        "subject": ids.ref("Patient", case["patient_id"]),
        "performedPeriod": {
            "start": case["procedure_started_at"].isoformat(),
            "end": case["procedure_ended_at"].isoformat(),
        },
        "reasonReference": [ids.ref("Condition", pk) for pk in fracture_ids],
        "extension": [
            _extension(
                "age-at-procedure",
                valueAge={
                    "value": case["age_at_procedure"],
                    "unit": "years",
                    "system": UCUM,
                    "code": "a",
                },
            ),
            _extension(
                "imaging-guidance",
                valueCoding=_registry_coding(
                    "imaging-guidance", case["guidance"], Guidance(case["guidance"]).label
                ),
            ),
            _extension(
                "anaesthesia",
                valueCoding=_registry_coding(
                    "anaesthesia", case["anesthesia"], Anesthesia(case["anesthesia"]).label
                ),
            ),
        ],
    }
    if case["operator"]:
        values["performer"] = [{"actor": {"display": case["operator"]}}]
    return FhirProcedure(**values)


def _condition(case: Row, ids: _FhirIds) -> Condition:
    fracture_type, site, side = (
        FractureType(case["fracture_type"]),
        Site(case["site"]),
        Side(case["side"]),
    )
    text = f"{fracture_type.label} fracture of {str(site.label).lower()}"
    if case["aetiology"]:
        text += f" ({str(Aetiology(case['aetiology']).label).lower()})"
    return Condition(
        id=ids.id("Condition", case["fracture_id"]),
        category=[
            {
                "coding": [
                    {
                        "system": f"{THO}/condition-category",
                        "code": "encounter-diagnosis",
                        "display": "Encounter Diagnosis",
                    }
                ]
            }
        ],
        verificationStatus={
            "coding": [
                {
                    "system": f"{THO}/condition-ver-status",
                    "code": "confirmed",
                    "display": "Confirmed",
                }
            ]
        },
        code={
            "coding": [_registry_coding("fracture-type", fracture_type.value, fracture_type.label)],
            "text": text,
        },
        bodySite=[
            {
                "coding": [_registry_coding("fracture-site", site.value, site.label)],
                "text": f"{site.label}, {str(side.label).lower()}",
            }
        ],
        subject=ids.ref("Patient", case["patient_id"]),
    )


def _adverse_event(event: Row, ids: _FhirIds) -> AdverseEvent:
    grade = event["grade"]
    major = grade >= MAJOR_GRADE
    values: dict[str, Any] = {
        "id": ids.id("AdverseEvent", event["complication_id"]),
        "actuality": "actual",
        "event": {
            "coding": [{"system": MEDDRA, "code": event["term"], "display": event["term_name"]}],
            "text": f"{event['term_name']}: {event['specify']}"
            if event["specify"]
            else event["term_name"],
        },
        "subject": ids.ref("Patient", event["patient_id"]),
        "severity": {
            "coding": [
                {
                    "system": f"{THO}/adverse-event-severity",
                    "code": FHIR_SEVERITY[grade],
                    "display": FHIR_SEVERITY[grade].capitalize(),
                }
            ],
            "text": f"CTCAE v5.0 grade {grade}",
        },
        "seriousness": {
            "coding": [
                {
                    "system": f"{THO}/adverse-event-seriousness",
                    "code": "serious" if major else "non-serious",
                    "display": "Serious" if major else "Non-serious",
                }
            ],
            "text": "major (CTCAE grade 3-5)" if major else "minor (CTCAE grade 1-2)",
        },
        "suspectEntity": [{"instance": ids.ref("Procedure", event["procedure_id"])}],
        "subjectMedicalHistory": [ids.ref("Condition", pk) for pk in event["fracture_ids"]],
        "extension": [
            _extension("ctcae-grade", valueInteger=grade),
            _extension(
                "complication-window",
                valueCoding=_registry_coding(
                    "complication-window", event["window"], Window(event["window"]).label
                ),
            ),
        ],
    }
    if event["relatedness"]:
        values["suspectEntity"][0]["causality"] = [{"assessment": {"text": event["relatedness"]}}]
    if event["onset_at"] is not None:
        values["date"] = event["onset_at"].isoformat()
    elif event["onset_date"] is not None:
        values["date"] = event["onset_date"].isoformat()
    if event["outcome"]:
        code = FHIR_OUTCOME[event["outcome"]]
        values["outcome"] = {"coding": [{"system": f"{THO}/adverse-event-outcome", "code": code}]}
    return AdverseEvent(**values)


def fhir_resources(selection: Selection, ids: _FhirIds | None = None) -> Iterator[Resource]:
    """Patients, Procedures and Conditions from one pass over the selected
    fractures (ordered by patient, so each patient comes once), then the
    AdverseEvents. Only the current procedure's fracture ids are held."""
    ids = ids or _FhirIds()
    patient_id: int | None = None
    procedure: Row | None = None
    fracture_ids: list[int] = []
    order = ("procedure__patient_id", "procedure__started_at", "procedure_id", "pk")
    for raw in _case_values(selection, *order):
        case = _case_row(raw, selection)
        if procedure is not None and case["procedure_id"] != procedure["procedure_id"]:
            yield _procedure(procedure, fracture_ids, ids)
            fracture_ids = []
        if case["patient_id"] != patient_id:
            patient_id = case["patient_id"]
            yield _patient(raw, ids, selection)
        procedure = case
        fracture_ids.append(case["fracture_id"])
        yield _condition(case, ids)
    if procedure is not None:
        yield _procedure(procedure, fracture_ids, ids)
    for event in complication_rows(selection):
        yield _adverse_event(event, ids)


def fhir_bundle_chunks(selection: Selection, *, tick: Tick | None = None) -> Iterator[str]:
    """The Bundle (type collection) as JSON text, one entry at a time."""
    ids = _FhirIds()
    envelope = Bundle(
        id=str(ids.namespace),
        type="collection",
        timestamp=timezone.now().isoformat(),
        meta={
            "tag": [
                {
                    "system": f"{REGISTRY_FHIR}:CodeSystem:export",
                    "code": ("identified" if selection.identifiers else "de-identified"),
                }
            ]
        },
    ).model_dump_json(exclude_none=True)
    yield envelope[:-1] + ',"entry":['
    separator = ""
    for resource in fhir_resources(selection, ids):
        entry = BundleEntry(fullUrl=f"urn:uuid:{resource.id}", resource=resource)
        yield separator + entry.model_dump_json(exclude_none=True)
        separator = ","
        if tick:
            tick()
    yield "]}"


def write_fhir(path: Path, selection: Selection, *, tick: Tick | None = None) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for chunk in fhir_bundle_chunks(selection, tick=tick):
            out.write(chunk)


# --- background jobs ------------------------------------------------------------------

EXTENSIONS = {
    ExportJob.Format.CSV: "csv",
    ExportJob.Format.XLSX: "xlsx",
    ExportJob.Format.FHIR: "json",
}
CONTENT_TYPES = {
    ExportJob.Format.CSV: "text/csv; charset=utf-8",
    ExportJob.Format.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ExportJob.Format.FHIR: "application/fhir+json",
}
ERROR_MAX = 2000


def export_job_create(
    *, owner: Any, format: str, kind: str = "", filters: Mapping[str, Any] | None = None
) -> ExportJob:
    """Record a job over the owner's departments of now and queue it after commit.

    ``filters`` are validated selector arguments. A CSV job without a kind
    exports the complications.
    """
    if format == ExportJob.Format.CSV:
        kind = kind or ExportJob.Kind.COMPLICATIONS
    with transaction.atomic():
        job = ExportJob.objects.create(
            owner=owner, format=format, kind=kind, filters=filters_to_json(filters or {})
        )
        job.departments.set(visible_departments(owner))
        transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _enqueue(job_id: int) -> None:
    """Queue the task.

    With the broker down the job stays "queued": ``export_jobs_requeue`` (a beat
    task) sends it again once the broker is back, so the work is deferred, not
    lost. In the embedded (eager) mode the task has run right here, and only a
    database error it could not retry in-process gets this far (Celery re-raises
    an eager retry instead of running it again); failing the job keeps it from
    showing "running" forever and the request from becoming a 500.
    """
    from celery import current_app
    from kombu.exceptions import OperationalError as BrokerError

    from complications.tasks import export_run  # the task module imports this one

    try:
        export_run.delay(job_id)
    except (BrokerError, ConnectionError) as exc:
        if current_app.conf.task_always_eager:
            export_job_fail(job_id=job_id, error=f"{type(exc).__name__}: {exc}")
        else:
            logger.warning("export job %s stays queued until the broker is back: %s", job_id, exc)
    except Exception as exc:  # noqa: BLE001 - whatever it is, the job is over
        cause = getattr(exc, "exc", None) or exc  # a Retry carries the error it retried
        logger.exception("export job %s could not run", job_id)
        export_job_fail(job_id=job_id, error=f"{type(cause).__name__}: {cause}")


# A job still "queued" this long after it was created was never delivered (the
# broker was down when it was created): send it again.
REQUEUE_AFTER = timedelta(minutes=2)


def export_jobs_requeue(*, older_than: timedelta = REQUEUE_AFTER) -> int:
    """Send again the jobs that never reached a worker; returns how many were sent.

    Safe to repeat: a job that has already run is left alone by the task, so a
    message sent twice costs at most one redundant check.
    """
    from complications.tasks import export_run

    stale = ExportJob.objects.filter(
        status=ExportJob.Status.QUEUED, created_at__lt=timezone.now() - older_than
    ).values_list("pk", flat=True)
    sent = 0
    for job_id in stale:
        export_run.delay(job_id)  # a broker still down raises: the next beat tries again
        sent += 1
    return sent


def export_filename(job: ExportJob) -> str:
    """The name a downloaded file gets: what, when, which job."""
    what = job.kind or (
        "cases-and-complications" if job.format == ExportJob.Format.XLSX else "bundle"
    )
    return f"pigsf-{what}-{job.created_at:%Y%m%d}-{job.pk}.{EXTENSIONS[job.format]}"


class _Progress:
    """Counts rows and writes the percentage when it grows, each write its own
    short autocommit UPDATE (at most 99 of them), so pollers see it at once."""

    def __init__(self, job_id: int, total: int) -> None:
        self.job_id, self.total, self.done, self.written = job_id, max(total, 1), 0, 0

    def __call__(self) -> None:
        self.done += 1
        percent = min(99, self.done * 100 // self.total)
        if percent > self.written:
            ExportJob.objects.filter(pk=self.job_id, status=ExportJob.Status.RUNNING).update(
                progress=percent
            )
            self.written = percent


def _total(job: ExportJob, selection: Selection) -> int:
    """How many rows (or Bundle entries) the job will write, in two queries."""
    complications = selection.complications().count()
    if job.format == ExportJob.Format.CSV and job.kind == ExportJob.Kind.COMPLICATIONS:
        return complications
    counts = selection.fractures().aggregate(
        fractures=Count("pk"),
        procedures=Count("procedure", distinct=True),
        patients=Count("procedure__patient", distinct=True),
    )
    if job.format == ExportJob.Format.CSV:
        return counts["fractures"]
    if job.format == ExportJob.Format.XLSX:
        return counts["fractures"] + complications
    return counts["fractures"] + counts["procedures"] + counts["patients"] + complications


def _write(job: ExportJob, path: Path, selection: Selection, tick: Tick) -> None:
    if job.format == ExportJob.Format.CSV:
        write_csv(path, selection, kind=job.kind, tick=tick)
    elif job.format == ExportJob.Format.XLSX:
        write_xlsx(path, selection, tick=tick)
    else:
        write_fhir(path, selection, tick=tick)


def export_job_fail(*, job_id: int, error: str) -> None:
    """Mark a job failed, without a file; a done job stays done (a late duplicate
    failure must not hide a good file)."""
    ExportJob.objects.filter(pk=job_id).exclude(status=ExportJob.Status.DONE).update(
        status=ExportJob.Status.FAILED, error=error[:ERROR_MAX], file="", finished_at=timezone.now()
    )


def export_job_run(*, job_id: int) -> ExportJob:
    """Write the job's file; idempotent (a done or failed job is left alone).

    The file is written under a temporary name next to its final place and
    moved there atomically, and only then does the job become done with its
    file, in one UPDATE: a download never sees a half-written file. An
    ``OperationalError`` (database unavailable) propagates for the task to
    retry; any other error fails the job with its message and leaves no file.
    """
    with transaction.atomic():
        job = ExportJob.objects.select_for_update().select_related("owner").get(pk=job_id)
        if job.status in (ExportJob.Status.DONE, ExportJob.Status.FAILED):
            return job
        job.status, job.progress = ExportJob.Status.RUNNING, 0
        job.save(update_fields=["status", "progress"])
    if not job.owner.is_active or not job.owner.has_perm(EXPORT_DATA):
        export_job_fail(
            job_id=job.pk, error="The owner of this export is no longer allowed to export."
        )
        return ExportJob.objects.get(pk=job.pk)

    name = f"exports/job-{job.pk}.{EXTENSIONS[job.format]}"
    final = Path(job.file.storage.path(name))
    final.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=final.parent, prefix=f".job-{job.pk}-", suffix=".part")
    os.close(handle)
    # mkstemp makes it 0600; the storage's mode lets the web process (maybe
    # another user than the worker) read it.
    if (mode := getattr(job.file.storage, "file_permissions_mode", None)) is not None:
        os.chmod(temporary, mode)
    try:
        selection = Selection.for_user(
            job.owner, filters_from_json(job.filters), job.departments.values_list("pk", flat=True)
        )
        _write(job, Path(temporary), selection, _Progress(job.pk, _total(job, selection)))
        os.replace(temporary, final)
    except OperationalError:
        raise
    except Exception as exc:
        logger.exception("export job %s failed", job.pk)
        export_job_fail(job_id=job.pk, error=f"{type(exc).__name__}: {exc}")
        return ExportJob.objects.get(pk=job.pk)
    finally:
        Path(temporary).unlink(missing_ok=True)  # already gone once moved into place
    ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.RUNNING).update(
        status=ExportJob.Status.DONE, progress=100, file=name, error="", finished_at=timezone.now()
    )
    return ExportJob.objects.get(pk=job.pk)


def table_stream_name(kind: str) -> str:
    """The file name of a streamed table download."""
    return f"pigsf-{kind}-{timezone.localdate():%Y%m%d}.csv"


def fhir_stream_name() -> str:
    return f"pigsf-bundle-{timezone.localdate():%Y%m%d}.json"
