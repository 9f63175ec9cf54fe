"""The HL7 FHIR R4 Bundle (type collection) of the selection.

It is streamed entry by entry: the envelope and every entry are built and
validated by the ``fhir.resources`` models, only the list that joins them is
written by hand. Patients, Procedures and Conditions come from the cases
table's rows, AdverseEvents from the complications table's, so the Bundle
holds the same cases, de-identified the same way.

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

import uuid
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

from django.db.models import Count
from django.utils import timezone
from fhir.resources.R4B.adverseevent import AdverseEvent
from fhir.resources.R4B.bundle import Bundle, BundleEntry
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.procedure import Procedure as FhirProcedure
from fhir.resources.R4B.resource import Resource

from complications.ctcae import severity_for
from complications.exports.base import Exporter, Tick, register
from complications.exports.selection import Selection
from complications.exports.tables import Row, case_row, case_values, complication_rows
from complications.models import ExportJob, Outcome, Window
from registry.models import Aetiology, Anesthesia, FractureType, Guidance, Side, Site

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
    major = severity_for(grade) == "major"
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
    for raw in case_values(selection, *order):
        case = case_row(raw, selection)
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


@register
class FhirExporter(Exporter):
    identifier = ExportJob.Format.FHIR
    extension = "json"
    content_type = "application/fhir+json"
    name = "bundle"

    def count(self) -> int:
        """The Bundle's entries: one per patient, procedure, fracture and complication."""
        counts = self.selection.fractures().aggregate(
            fractures=Count("pk"),
            procedures=Count("procedure", distinct=True),
            patients=Count("procedure__patient", distinct=True),
        )
        return sum(counts.values()) + self.selection.complications().count()

    def chunks(self, *, tick: Tick | None = None) -> Iterator[str]:
        return fhir_bundle_chunks(self.selection, tick=tick)
