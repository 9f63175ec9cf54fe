"""Import a FHIR R4 Bundle written by the registry's export into a department.

Every record is written through the services (``patient_create``,
``procedure_create``, ``fracture_create``, ``follow_up_create``,
``complication_record``), in one transaction whose outcome summary is refreshed
once at the end (``outcomes_deferred``): a Bundle imports whole or not at all,
and every rule of a form or the API holds for it. The grades are never taken
from the Bundle: the grading service derives them again from the recorded facts
(the ``recorded-facts`` extension), and an override is re-applied with its
reason. So a Bundle exported by one department imports into an empty one with
the same rates, cohort and grades (tests/complications/test_fhir_import.py).

What the Bundle must hold is the registry's own profile (docs/fhir/README.md):
resources of other senders are refused with the path of what is missing, not
guessed. A de-identified export has no birth dates: the birth date is then set
to the procedure's local date less the exported age in years, which gives the
same age at every procedure (ages are whole years), and the registry id is the
exporting registry's patient identifier (``FHIR-<value>``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction

from complications import services as complication_services
from complications.exports import fhir_terms as t
from complications.outcomes.refresh import outcomes_deferred
from registry import services as registry_services
from registry.models import Department, Fracture, Patient, Procedure

Resource = dict[str, Any]
IMPORTED_OVERRIDE_REASON = "Imported from a FHIR export that did not carry the reason."


class FhirImportError(ValidationError):
    pass


def _fail(path: str, message: str) -> FhirImportError:
    return FhirImportError({path: [message]})


def _extension(resource: Mapping[str, Any], name: str, default: Any = None) -> Any:
    url = name if name.startswith("http") else t.extension_url(name)
    for item in resource.get("extension", []):
        if item.get("url") == url:
            return next(v for k, v in item.items() if k.startswith("value"))
    return default


def _local_code(concept: Mapping[str, Any] | None, system: str) -> str | None:
    for coding in (concept or {}).get("coding", []):
        if coding.get("system") == t.code_system_url(system):
            return str(coding["code"])
    return None


def _identifier(resource: Mapping[str, Any], suffix: str) -> str | None:
    identifiers = resource.get("identifier", [])
    for identifier in identifiers if isinstance(identifiers, list) else [identifiers]:
        if identifier.get("system", "").endswith(suffix):
            return str(identifier["value"])
    return None


def _instant(value: str) -> datetime:
    instant = datetime.fromisoformat(value)
    if instant.tzinfo is None:
        raise ValueError(f"{value} has no time zone")
    return instant


class _Bundle:
    def __init__(self, bundle: Mapping[str, Any]) -> None:
        if bundle.get("resourceType") != "Bundle":
            raise _fail("resourceType", "Not a FHIR Bundle.")
        self.by_url: dict[str, Resource] = {}
        self.by_type: dict[str, list[Resource]] = {}
        for entry in bundle.get("entry", []):
            resource = entry["resource"]
            kind = resource["resourceType"]
            self.by_type.setdefault(kind, []).append(resource)
            self.by_url[f"{kind}/{resource['id']}"] = resource
            if "fullUrl" in entry:
                self.by_url[entry["fullUrl"]] = resource

    def of(self, kind: str) -> list[Resource]:
        return self.by_type.get(kind, [])

    def key(self, reference: Mapping[str, Any]) -> str:
        """The resource a reference names, by its ``Type/id`` (a ``urn:uuid:`` resolved)."""
        target = self.by_url.get(reference.get("reference", ""))
        if target is None:
            raise _fail("reference", f"Unresolved reference {reference.get('reference')!r}.")
        return f"{target['resourceType']}/{target['id']}"


def _birth_date(patient: Resource, first_procedure: Resource, zone: ZoneInfo) -> date:
    if "birthDate" in patient:
        return date.fromisoformat(patient["birthDate"])
    age = _extension(first_procedure, "age-at-procedure")
    if age is None:
        raise _fail("Patient.birthDate", "Neither a birth date nor an age at the procedure.")
    day = _instant(first_procedure["performedPeriod"]["start"]).astimezone(zone).date()
    years = int(age["value"])
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


@transaction.atomic
def fhir_bundle_import(
    *, bundle: Mapping[str, Any], department: Department, actor: Any = None
) -> dict[str, int]:
    """Write a registry Bundle's cases into ``department``; returns how many of each."""
    data = _Bundle(bundle)
    zone = ZoneInfo(department.time_zone)
    counts = dict.fromkeys(
        ("patients", "procedures", "fractures", "follow_ups", "complications"), 0
    )
    procedures_of: dict[str, list[Resource]] = {}
    for procedure in data.of("Procedure"):
        procedures_of.setdefault(data.key(procedure["subject"]), []).append(procedure)
    for items in procedures_of.values():
        items.sort(key=lambda p: p["performedPeriod"]["start"])

    patients: dict[str, Patient] = {}
    procedures: dict[str, Procedure] = {}
    fractures: dict[str, Fracture] = {}
    with outcomes_deferred():
        for resource in data.of("Patient"):
            key = f"Patient/{resource['id']}"
            own = procedures_of.get(key)
            if not own:
                continue  # a patient without a procedure is outside every selection
            registry_id = _identifier(resource, "/registry-id") or (
                f"FHIR-{_identifier(resource, '/sid/patient') or resource['id']}"
            )
            patients[key] = registry_services.patient_create(
                department=department,
                registry_id=registry_id,
                sex=resource["gender"],
                birth_date=_birth_date(resource, own[0], zone),
            )
            counts["patients"] += 1
            for procedure in own:
                procedures[f"Procedure/{procedure['id']}"] = _procedure(
                    procedure, patients[key], data, fractures
                )
                counts["procedures"] += 1
                counts["fractures"] += len(procedure.get("reasonReference", []))
        for encounter in data.of("Encounter"):
            counts["follow_ups"] += _follow_up(encounter, data, procedures, fractures)
        for event in data.of("AdverseEvent"):
            _complication(event, data, procedures, fractures, actor)
            counts["complications"] += 1
    return counts


def _procedure(
    resource: Resource, patient: Patient, data: _Bundle, fractures: dict[str, Fracture]
) -> Procedure:
    period = resource["performedPeriod"]
    performer = resource.get("performer", [{}])[0].get("actor", {}).get("display", "")
    procedure = registry_services.procedure_create(
        patient=patient,
        started_at=_instant(period["start"]),
        ended_at=_instant(period["end"]),
        guidance=_extension(resource, "imaging-guidance")["code"],
        anesthesia=_extension(resource, "anaesthesia")["code"],
        operator=performer,
    )
    for reference in resource.get("reasonReference", []):
        key = data.key(reference)
        condition = data.by_url[key]
        site = _local_code(condition["bodySite"][0], "fracture-site")
        laterality = _extension(condition["bodySite"][0], "laterality")
        aetiology = _extension(condition, "fracture-aetiology")
        fractures[key] = registry_services.fracture_create(
            procedure=procedure,
            type=_extension(condition, "fracture-type")["code"],
            site=site or "",
            side=_local_code(laterality, "laterality") or "",
            screws=int(_extension(condition, "screws", 1)),
            aetiology=aetiology["code"] if aetiology else "",
            cement_augmented=bool(_extension(condition, "cement-augmented", False)),
        )
    return procedure


def _covered(
    references: Iterable[Mapping[str, Any]], data: _Bundle, fractures: dict[str, Fracture]
) -> list[Fracture]:
    return [fractures[data.key(reference)] for reference in references]


def _follow_up(
    resource: Resource,
    data: _Bundle,
    procedures: dict[str, Procedure],
    fractures: dict[str, Fracture],
) -> int:
    """A contact covering none of the exported fractures (outside the export's
    selection) is left out: 0; otherwise 1."""
    (reason,) = resource["reasonReference"]
    procedure = procedures[data.key(reason)]
    every = bool(_extension(resource, "all-fractures", False))
    named = _covered((d["condition"] for d in resource.get("diagnosis", [])), data, fractures)
    if not every and not named:
        return 0
    registry_services.follow_up_create(
        procedure=procedure,
        contact_at=_instant(resource["period"]["start"]),
        kind=_extension(resource, "contact-kind")["code"],
        fractures=None if every else named,
    )
    return 1


def _complication(
    resource: Resource,
    data: _Bundle,
    procedures: dict[str, Procedure],
    fractures: dict[str, Fracture],
    actor: Any,
) -> None:
    procedure = procedures[data.key(resource["suspectEntity"][0]["instance"])]
    (term,) = [c for c in resource["event"]["coding"] if c["system"] == t.MEDDRA]
    onset: dict[str, Any] = {}
    if _extension(resource, "during-procedure"):
        onset["during_procedure"] = True
    elif (day := _extension(resource, "onset-date")) is not None:
        onset["onset_date"] = date.fromisoformat(day)
    else:
        onset["onset_at"] = _instant(resource["date"])
    relatedness = ""
    for causality in resource["suspectEntity"][0].get("causality", []):
        relatedness = _local_code(causality.get("assessment"), "relatedness") or relatedness
    override = _extension(resource, "grade-override")
    every = bool(_extension(resource, "all-fractures", False))
    named = _covered(resource.get("subjectMedicalHistory", []), data, fractures)
    outcome_facts = _extension(resource, "outcome-facts")
    complication_services.complication_record(
        procedure=procedure,
        term=term["code"],
        facts=json.loads(_extension(resource, "recorded-facts", "{}")),
        fractures=None if every else named,
        specify=_extension(resource, "other-specify", ""),
        grade_override=override,
        override_reason=(
            _extension(resource, "override-reason") or IMPORTED_OVERRIDE_REASON
            if override is not None
            else ""
        ),
        outcome=_local_outcome(resource),
        relatedness=relatedness,
        outcome_facts=json.loads(outcome_facts) if outcome_facts else None,
        actor=actor,
        **onset,
    )


def _local_outcome(resource: Resource) -> str:
    codes = {fhir: local for local, fhir in t.OUTCOME.items()}
    for coding in resource.get("outcome", {}).get("coding", []):
        if coding.get("code") in codes:
            return codes[coding["code"]]
    return ""
