"""HL7 FHIR R4 (4.0.1) resources of the selection, and the Bundle exporter.

One module past 600 lines, deliberately: one builder per resource type, each a page, read
side by side with the implementation guide; the vocabulary (every URL and code) is in
``fhir_terms`` and the Bulk Data exporter in ``fhir_bulk``.

The resources are plain dicts, written to the R4 JSON schema (the tests
validate every export against the official R4 ``fhir.schema.json``): no
library of R4 models enforces R4's required bindings, and dicts stream fast.
The implementation guide (docs/fhir/README.md) describes the mapping; the
vocabulary is in ``fhir_terms``. In short:

- Organization per department (its time zone in an extension);
- Patient (gender; birth date and registry id only with the identifiers
  permission), its mCODE-style cancer Condition when a fracture's aetiology is a
  metastasis or a myeloma;
- Condition per fracture (SNOMED CT, ICD-10 and the registry's coding; an
  impending fracture is a risk: no fracture code, the registry's "impending"
  type, category problem-list-item), with site, coded laterality, screws and
  cement;
- Procedure per procedure (reasonReference: its fractures);
- Encounter per follow-up contact (reasonReference: the procedure; diagnosis:
  the fractures it covers);
- AdverseEvent per complication: MedDRA term with its version, the CTCAE grade
  in the AE Clinical Research backport's ``ae-grade`` (NCI Thesaurus),
  severity, seriousness from the recorded facts (absent when they do not say),
  causality, and the facts, automatic grade, override and rationale in the
  registry's extensions.

Ids are UUIDs derived from the installation (``FHIR_INSTALLATION``), the
resource type and the record's id: the same record has the same id in every
export, so a receiver can update and deduplicate. Every resource has a business
identifier under ``https://pigsf-registry.org/fhir/sid/`` and security labels.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Iterator, Mapping
from typing import Any

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from complications.exports import fhir_terms as t
from complications.exports.base import Exporter, Tick, register
from complications.exports.selection import Selection
from complications.exports.tables import (
    CHUNK,
    Row,
    batched,
    case_row,
    case_values,
    complication_rows,
    fractures_of,
)
from complications.models import ComplicationEvent, ExportJob, Outcome, Relatedness, Window
from registry.models import (
    Aetiology,
    Anesthesia,
    ContactKind,
    Department,
    FollowUp,
    FractureType,
    Guidance,
    Side,
    Site,
)

REGISTRY_FHIR = t.CANONICAL
MEDDRA = t.MEDDRA
PROCEDURE_TEXT = "Percutaneous image-guided screw fixation"
Resource = dict[str, Any]


def dumps(resource: Mapping[str, Any]) -> str:
    return json.dumps(resource, ensure_ascii=False, separators=(",", ":"))


def _ext(name: str, **value: Any) -> dict[str, Any]:
    return {"url": t.extension_url(name), **value}


def _coding(system: str, code: str, display: Any) -> dict[str, str]:
    return {"system": t.code_system_url(system), "code": code, "display": str(display)}


def _label(choices: Any, value: str) -> str:
    return str(choices(value).label)


class FhirIds:
    """Stable ids: the same record has the same UUID in every export of this installation.

    ``relative`` references (``Patient/<id>``) are for NDJSON files, where no
    Bundle gives the resources ``urn:uuid:`` full URLs.
    """

    def __init__(self, *, relative: bool = False) -> None:
        self.namespace = uuid.uuid5(
            uuid.NAMESPACE_URL, f"{t.CANONICAL}/installation/{settings.FHIR_INSTALLATION}"
        )
        self.relative = relative

    def id(self, resource_type: str, key: Any) -> str:
        return str(uuid.uuid5(self.namespace, f"{resource_type}/{key}"))

    def ref(self, resource_type: str, key: Any) -> dict[str, str]:
        name = self.id(resource_type, key)
        return {"reference": f"{resource_type}/{name}" if self.relative else f"urn:uuid:{name}"}


class _Context:
    def __init__(self, selection: Selection, ids: FhirIds) -> None:
        self.selection, self.ids = selection, ids
        self.security = t.security(selection.identifiers)

    def base(self, resource_type: str, key: Any, identifier: str, value: Any) -> Resource:
        return {
            "resourceType": resource_type,
            "id": self.ids.id(resource_type, key),
            "meta": {"security": self.security},
            "identifier": [{"system": t.identifier_system(identifier), "value": str(value)}],
        }


# --- resources -----------------------------------------------------------------------


def _organization(department: Mapping[str, Any], ctx: _Context) -> Resource:
    resource = ctx.base("Organization", department["code"], "department", department["code"])
    resource["active"] = True
    resource["name"] = department["name"]
    resource["extension"] = [_ext("department-time-zone", valueCode=department["time_zone"])]
    return resource


def _patient(raw: Mapping[str, Any], ctx: _Context) -> Resource:
    department = raw["procedure__patient__department__code"]
    resource = ctx.base(
        "Patient", raw["procedure__patient_id"], "patient", raw["procedure__patient_id"]
    )
    if ctx.selection.identifiers:
        resource["identifier"].append(
            {
                "system": t.identifier_system(f"department/{department}/registry-id"),
                "value": raw["procedure__patient__registry_id"],
            }
        )
        resource["birthDate"] = raw["procedure__patient__birth_date"].isoformat()
    resource["gender"] = raw["procedure__patient__sex"]
    resource["managingOrganization"] = ctx.ids.ref("Organization", department)
    return resource


def _aetiology_condition(patient_id: int, aetiology: str, ctx: _Context) -> Resource:
    """The cancer behind a pathological fracture, as mCODE records a cancer condition."""
    codes = t.AETIOLOGY_CONDITION[aetiology]
    resource = ctx.base(
        "Condition",
        f"aetiology/{patient_id}/{aetiology}",
        "aetiology-condition",
        f"{patient_id}-{aetiology}",
    )
    resource["clinicalStatus"] = ACTIVE  # con-3: a problem-list item has a clinical status
    resource["verificationStatus"] = _condition_verification("confirmed", "Confirmed")
    resource["category"] = [_condition_category("problem-list-item", "Problem List Item")]
    resource["code"] = {
        "coding": [
            {"system": system, "code": code, "display": display}
            for system, (code, display) in codes.items()
        ]
        + [_coding("aetiology", aetiology, _label(Aetiology, aetiology))],
        "text": _label(Aetiology, aetiology),
    }
    resource["subject"] = ctx.ids.ref("Patient", patient_id)
    return resource


ACTIVE = {
    "coding": [{"system": f"{t.THO}/condition-clinical", "code": "active", "display": "Active"}]
}


def _condition_category(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": f"{t.THO}/condition-category", "code": code, "display": display}]}


def _condition_verification(code: str, display: str) -> dict[str, Any]:
    return {
        "coding": [{"system": f"{t.THO}/condition-ver-status", "code": code, "display": display}]
    }


def _fracture_condition(case: Row, ctx: _Context) -> Resource:
    kind, site, side, aetiology = (
        case["fracture_type"],
        case["site"],
        case["side"],
        case["aetiology"],
    )
    site_label = _label(Site, site)
    impending = kind == FractureType.IMPENDING
    if impending:
        text = f"Impending pathological fracture of {site_label.lower()} (risk)"
    else:
        text = f"{_label(FractureType, kind)} fracture of {site_label.lower()}"
    if aetiology:
        text += f" ({_label(Aetiology, aetiology).lower()})"
    codings: list[dict[str, str]] = []
    if not impending:
        code, display = t.FRACTURE_SNOMED[kind]
        codings.append({"system": t.SNOMED, "code": code, "display": display})
        icd = t.FRACTURE_ICD10.get((kind, aetiology)) or t.FRACTURE_ICD10[(kind, "")]
        codings.append({"system": t.ICD10, "code": icd[0], "display": icd[1]})
    codings.append(_coding("fracture-type", kind, _label(FractureType, kind)))

    site_codings = []
    if site in t.BODY_SITE:
        code, display = t.BODY_SITE[site]
        site_codings.append({"system": t.SNOMED, "code": code, "display": display})
    site_codings.append(_coding("fracture-site", site, site_label))
    laterality_code, laterality_display = t.LATERALITY[side]
    resource = ctx.base("Condition", case["fracture_id"], "fracture", case["fracture_id"])
    extensions = [
        _ext(
            "fracture-type", valueCoding=_coding("fracture-type", kind, _label(FractureType, kind))
        ),
        _ext("screws", valuePositiveInt=case["screws"]),
        _ext("cement-augmented", valueBoolean=case["cement_augmented"]),
    ]
    if aetiology:
        extensions.append(
            _ext(
                "fracture-aetiology",
                valueCoding=_coding("aetiology", aetiology, _label(Aetiology, aetiology)),
            )
        )
    if aetiology in t.AETIOLOGY_CONDITION:
        extensions.append(
            {
                "url": t.CONDITION_RELATED,
                "valueReference": ctx.ids.ref(
                    "Condition", f"aetiology/{case['patient_id']}/{aetiology}"
                ),
            }
        )
    resource["extension"] = extensions
    if impending:
        resource["clinicalStatus"] = ACTIVE  # con-3
    resource["verificationStatus"] = _condition_verification("confirmed", "Confirmed")
    resource["category"] = [
        _condition_category("problem-list-item", "Problem List Item")
        if impending
        else _condition_category("encounter-diagnosis", "Encounter Diagnosis")
    ]
    resource["code"] = {"coding": codings, "text": text}
    resource["bodySite"] = [
        {
            "extension": [
                _ext(
                    "laterality",
                    valueCodeableConcept={
                        "coding": [
                            {
                                "system": t.SNOMED,
                                "code": laterality_code,
                                "display": laterality_display,
                            },
                            _coding("laterality", side, _label(Side, side)),
                        ]
                    },
                )
            ],
            "coding": site_codings,
            "text": f"{site_label}, {_label(Side, side).lower()}",
        }
    ]
    resource["subject"] = ctx.ids.ref("Patient", case["patient_id"])
    return resource


def _procedure(case: Row, fracture_ids: list[int], ctx: _Context) -> Resource:
    resource = ctx.base("Procedure", case["procedure_id"], "procedure", case["procedure_id"])
    resource["extension"] = [
        _ext(
            "age-at-procedure",
            valueAge={
                "value": case["age_at_procedure"],
                "unit": "years",
                "system": t.UCUM,
                "code": "a",
            },
        ),
        _ext(
            "imaging-guidance",
            valueCoding=_coding(
                "imaging-guidance", case["guidance"], _label(Guidance, case["guidance"])
            ),
        ),
        _ext(
            "anaesthesia",
            valueCoding=_coding(
                "anaesthesia", case["anesthesia"], _label(Anesthesia, case["anesthesia"])
            ),
        ),
    ]
    resource["status"] = "completed"
    resource["code"] = {
        "coding": [_coding("procedure", "pigsf", PROCEDURE_TEXT)],
        "text": PROCEDURE_TEXT,
    }
    resource["subject"] = ctx.ids.ref("Patient", case["patient_id"])
    resource["performedPeriod"] = {
        "start": case["procedure_started_at"].isoformat(),
        "end": case["procedure_ended_at"].isoformat(),
    }
    if case["operator"]:
        resource["performer"] = [{"actor": {"display": case["operator"]}}]
    resource["reasonReference"] = [ctx.ids.ref("Condition", pk) for pk in fracture_ids]
    return resource


def _encounter(contact: Mapping[str, Any], fracture_ids: list[int], ctx: _Context) -> Resource:
    resource = ctx.base("Encounter", contact["pk"], "follow-up", contact["pk"])
    kind = contact["kind"]
    resource["extension"] = [
        _ext("contact-kind", valueCoding=_coding("contact-kind", kind, _label(ContactKind, kind))),
        _ext("all-fractures", valueBoolean=contact["all_fractures"]),
    ]
    resource["status"] = "finished"
    virtual = kind == ContactKind.PHONE
    resource["class"] = {
        "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
        "code": "VR" if virtual else "AMB",
        "display": "virtual" if virtual else "ambulatory",
    }
    resource["type"] = [{"coding": [_coding("contact-kind", kind, _label(ContactKind, kind))]}]
    resource["subject"] = ctx.ids.ref("Patient", contact["procedure__patient_id"])
    resource["period"] = {"start": contact["contact_at"].isoformat()}
    resource["reasonReference"] = [ctx.ids.ref("Procedure", contact["procedure_id"])]
    if fracture_ids:
        resource["diagnosis"] = [{"condition": ctx.ids.ref("Condition", pk)} for pk in fracture_ids]
    resource["serviceProvider"] = ctx.ids.ref(
        "Organization", contact["procedure__patient__department__code"]
    )
    return resource


def seriousness(facts: Mapping[str, Any], outcome: str) -> tuple[bool | None, list[str]]:
    """Serious (ICH E2A) when a recorded fact or the outcome says so; non-serious
    only when all four criteria are recorded as absent; otherwise unknown (None)."""
    met = [text for name, text in t.SERIOUSNESS_FACTS if facts.get(name) is True]
    if outcome == Outcome.DEATH and t.SERIOUSNESS_FACTS[0][1] not in met:
        met.insert(0, t.SERIOUSNESS_FACTS[0][1])
    if met:
        return True, met
    if all(facts.get(name) is False for name, _text in t.SERIOUSNESS_FACTS):
        return False, []
    return None, []


def _adverse_event(event: Row, extra: Mapping[str, Any], ctx: _Context) -> Resource:
    grade = event["grade"]
    resource = ctx.base(
        "AdverseEvent", event["complication_id"], "complication", event["complication_id"]
    )
    resource["identifier"] = resource["identifier"][0]  # 0..1 in R4
    grade_code, grade_display = t.NCIT_GRADES[grade]
    extensions = [
        {
            "url": t.AE_GRADE,
            "valueCodeableConcept": {
                "coding": [{"system": t.NCIT, "code": grade_code, "display": grade_display}],
                "text": f"CTCAE v5.0 grade {grade}",
            },
        },
        _ext(
            "complication-window",
            valueCoding=_coding(
                "complication-window", event["window"], _label(Window, event["window"])
            ),
        ),
        _ext("recorded-facts", valueString=json.dumps(event["facts"] or {}, sort_keys=True)),
        _ext("auto-grade", valueInteger=event["auto_grade"]),
        _ext("all-fractures", valueBoolean=extra["all_fractures"]),
    ]
    if event["hours_after_end"] is not None:
        extensions.append(_ext("hours-after-end", valueDecimal=round(event["hours_after_end"], 4)))
    if event["during_procedure"]:
        extensions.append(_ext("during-procedure", valueBoolean=True))
    if event["onset_date"] is not None:
        extensions.append(_ext("onset-date", valueDate=event["onset_date"].isoformat()))
    if event["specify"]:
        extensions.append(_ext("other-specify", valueString=event["specify"]))
    if event["grade_override"] is not None:
        extensions.append(_ext("grade-override", valueInteger=event["grade_override"]))
        if ctx.selection.identifiers and extra["override_reason"]:
            extensions.append(_ext("override-reason", valueString=extra["override_reason"]))
    if event["grade_rationale"]:
        extensions.append(_ext("grade-rationale", valueString=event["grade_rationale"]))
    if extra["outcome_facts"]:
        extensions.append(
            _ext("outcome-facts", valueString=json.dumps(extra["outcome_facts"], sort_keys=True))
        )
    if event["cirse_grade"] is not None:
        extensions.append(_ext("cirse-grade", valueInteger=event["cirse_grade"]))
    if event["sir_class"]:
        extensions.append(_ext("sir-class", valueString=event["sir_class"]))
    serious, criteria = seriousness(event["facts"] or {}, event["outcome"])
    if criteria:
        extensions.append(_ext("seriousness-criteria", valueString="; ".join(criteria)))
    resource["extension"] = extensions
    resource["actuality"] = "actual"
    resource["event"] = {
        "coding": [
            {
                "system": t.MEDDRA,
                "version": t.MEDDRA_VERSION,
                "code": event["term"],
                "display": event["term_name"],
            }
        ],
        "text": f"{event['term_name']}: {event['specify']}"
        if event["specify"]
        else event["term_name"],
    }
    resource["subject"] = ctx.ids.ref("Patient", event["patient_id"])
    if event["onset_at"] is not None:
        resource["date"] = event["onset_at"].isoformat()
    elif event["onset_date"] is not None:
        resource["date"] = event["onset_date"].isoformat()
    resource["recordedDate"] = extra["created_at"].isoformat()
    if serious is not None:
        code = "serious" if serious else "non-serious"
        resource["seriousness"] = {
            "coding": [
                {
                    "system": f"{t.THO}/adverse-event-seriousness",
                    "code": code,
                    "display": "Serious" if serious else "Non-serious",
                }
            ]
        }
        if criteria:
            resource["seriousness"]["text"] = "Serious: " + "; ".join(criteria)
    resource["severity"] = {
        "coding": [
            {
                "system": f"{t.THO}/adverse-event-severity",
                "code": t.SEVERITY[grade],
                "display": t.SEVERITY[grade].capitalize(),
            }
        ],
        "text": f"CTCAE v5.0 grade {grade}",
    }
    if event["outcome"]:
        resource["outcome"] = {
            "coding": [
                {"system": f"{t.THO}/adverse-event-outcome", "code": t.OUTCOME[event["outcome"]]}
            ]
        }
    if extra["created_by_id"] is not None:
        resource["recorder"] = {
            "type": "Practitioner",
            "identifier": {
                "system": t.identifier_system("user"),
                "value": str(extra["created_by_id"]),
            },
        }
    suspect: dict[str, Any] = {"instance": ctx.ids.ref("Procedure", event["procedure_id"])}
    if event["relatedness"]:
        codings = []
        if event["relatedness"] in t.CAUSALITY:
            code, display = t.CAUSALITY[event["relatedness"]]
            codings.append(
                {
                    "system": f"{t.THO}/adverse-event-causality-assess",
                    "code": code,
                    "display": display,
                }
            )
        codings.append(
            _coding("relatedness", event["relatedness"], _label(Relatedness, event["relatedness"]))
        )
        suspect["causality"] = [{"assessment": {"coding": codings, "text": event["relatedness"]}}]
    resource["suspectEntity"] = [suspect]
    if event["fracture_ids"]:
        resource["subjectMedicalHistory"] = [
            ctx.ids.ref("Condition", pk) for pk in event["fracture_ids"]
        ]
    return resource


# --- the passes over the selection ---------------------------------------------------


def _organizations(ctx: _Context) -> Iterator[Resource]:
    departments = Department.objects.filter(
        pk__in=ctx.selection.fractures().values("procedure__patient__department")
    ).values("code", "name", "time_zone")
    for department in departments.order_by("code"):
        yield _organization(department, ctx)


def _cases(ctx: _Context) -> Iterator[Resource]:
    """Patients (with their cancer conditions), fracture Conditions and Procedures
    from one pass over the selected fractures, ordered by patient."""
    patient_id: int | None = None
    aetiologies: set[str] = set()
    procedure: Row | None = None
    fracture_ids: list[int] = []
    order = ("procedure__patient_id", "procedure__started_at", "procedure_id", "pk")
    for raw in case_values(ctx.selection, *order):
        case = case_row(raw, ctx.selection)
        if procedure is not None and case["procedure_id"] != procedure["procedure_id"]:
            yield _procedure(procedure, fracture_ids, ctx)
            fracture_ids = []
        if case["patient_id"] != patient_id:
            patient_id, aetiologies = case["patient_id"], set()
            yield _patient(raw, ctx)
        if case["aetiology"] in t.AETIOLOGY_CONDITION and case["aetiology"] not in aetiologies:
            aetiologies.add(case["aetiology"])
            yield _aetiology_condition(case["patient_id"], case["aetiology"], ctx)
        procedure = case
        fracture_ids.append(case["fracture_id"])
        yield _fracture_condition(case, ctx)
    if procedure is not None:
        yield _procedure(procedure, fracture_ids, ctx)


def _encounters(ctx: _Context) -> Iterator[Resource]:
    """The follow-up contacts of the selected procedures, each with the selected
    fractures it covers; the fractures of each chunk come in one query."""
    fractures = ctx.selection.fractures()
    contacts = (
        FollowUp.objects.filter(procedure__in=fractures.values("procedure"))
        .values(
            "pk",
            "procedure_id",
            "procedure__patient_id",
            "procedure__patient__department__code",
            "contact_at",
            "kind",
            "all_fractures",
        )
        .order_by("procedure_id", "contact_at", "pk")
        .iterator(chunk_size=CHUNK)
    )
    links = FollowUp.fractures.through.objects.filter(fracture__in=fractures)
    for chunk in batched(contacts, CHUNK):
        covered = fractures_of(links, "followup_id", [c["pk"] for c in chunk])
        for contact in chunk:
            yield _encounter(contact, covered[contact["pk"]], ctx)


def _adverse_events(ctx: _Context) -> Iterator[Resource]:
    """The complications table's rows, with what the table leaves out (the
    override reason, outcome facts, who recorded it and when) a query per chunk."""
    for chunk in batched(complication_rows(ctx.selection), CHUNK):
        extras = {
            row["pk"]: row
            for row in ComplicationEvent.objects.filter(
                pk__in=[event["complication_id"] for event in chunk]
            ).values(
                "pk",
                "override_reason",
                "outcome_facts",
                "created_at",
                "created_by_id",
                "all_fractures",
            )
        }
        for event in chunk:
            yield _adverse_event(event, extras[event["complication_id"]], ctx)


RESOURCE_TYPES = ("Organization", "Patient", "Condition", "Procedure", "Encounter", "AdverseEvent")


def fhir_resources(
    selection: Selection, ids: FhirIds | None = None, *, types: Collection[str] | None = None
) -> Iterator[Resource]:
    """Every resource of the selection, each once: Organizations, then per patient
    the Patient, its Conditions and Procedures, then Encounters, then AdverseEvents.
    ``types``: only these resource types (a pass none of them needs is skipped)."""
    ctx = _Context(selection, ids or FhirIds())
    wanted = set(RESOURCE_TYPES if types is None else types)
    passes = (
        ({"Organization"}, _organizations),
        ({"Patient", "Condition", "Procedure"}, _cases),
        ({"Encounter"}, _encounters),
        ({"AdverseEvent"}, _adverse_events),
    )
    for gives, run in passes:
        if gives & wanted:
            for resource in run(ctx):
                if resource["resourceType"] in wanted:
                    yield resource


def fhir_bundle_chunks(selection: Selection, *, tick: Tick | None = None) -> Iterator[str]:
    """The Bundle (type collection) as JSON text, one entry at a time; no ``entry``
    element at all when the selection is empty (R4 forbids empty arrays)."""
    ids = FhirIds()
    bundle_id = str(uuid.uuid4())
    envelope = {
        "resourceType": "Bundle",
        "id": bundle_id,
        "meta": {"security": t.security(selection.identifiers)},
        "identifier": {"system": t.identifier_system("export"), "value": bundle_id},
        "type": "collection",
        "timestamp": timezone.now().isoformat(),
    }
    yield dumps(envelope)[:-1]
    separator = ',"entry":['
    for resource in fhir_resources(selection, ids):
        yield separator + dumps({"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource})
        separator = ","
        if tick:
            tick()
    yield "}" if separator.startswith(',"entry"') else "]}"


def fhir_count(selection: Selection) -> int:
    """How many resources the selection gives (the Bundle's entries)."""
    fractures = selection.fractures()
    counts = fractures.aggregate(
        fractures=Count("pk"),
        procedures=Count("procedure", distinct=True),
        patients=Count("procedure__patient", distinct=True),
        departments=Count("procedure__patient__department", distinct=True),
    )
    cancers = (
        fractures.filter(aetiology__in=list(t.AETIOLOGY_CONDITION))
        .values("procedure__patient_id", "aetiology")
        .distinct()
        .count()
    )
    contacts = FollowUp.objects.filter(procedure__in=fractures.values("procedure")).count()
    return int(sum(counts.values())) + cancers + contacts + selection.complications().count()


@register
class FhirExporter(Exporter):
    identifier = ExportJob.Format.FHIR
    extension = "json"
    content_type = "application/fhir+json"
    name = "bundle"

    def count(self) -> int:
        return fhir_count(self.selection)

    def chunks(self, *, tick: Tick | None = None) -> Iterator[str]:
        return fhir_bundle_chunks(self.selection, tick=tick)
