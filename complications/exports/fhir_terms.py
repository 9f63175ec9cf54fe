"""The registry's FHIR vocabulary: canonical URLs, its own code systems and
extensions, and the standard codes written beside the local ones.

One place for every URL and mapping: the exporter (``fhir``, ``fhir_bulk``),
the importer (``complications.fhir_import``) and the implementation guide
(``manage.py registry_fhir_ig``, docs/fhir/) all read them from here, so the
published definitions cannot drift from what is written.

Standard codes
--------------
Only codes the registry can vouch for are written; where none fits exactly
(the screw fixation itself, some pelvic sites, an impending fracture) the
registry's own coding and the text carry the meaning, never a near miss.
ICD-10 is the WHO edition (``http://hl7.org/fhir/sid/icd-10``), four
characters: a non-traumatic fracture is classified by its cause (M80/M84, M90.7
in neoplastic disease), not by the injury chapter's S codes.
"""

from __future__ import annotations

from typing import Any

CANONICAL = "https://pigsf-registry.org/fhir"
IG_VERSION = "1.0.0"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
MEDDRA = "https://www.meddra.org"
MEDDRA_VERSION = "20.1"  # the MedDRA release CTCAE v5.0 is built on
NCIT = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"
UCUM = "http://unitsofmeasure.org"
THO = "http://terminology.hl7.org/CodeSystem"
AE_GRADE = "http://hl7.org/fhir/uv/ae-research-backport-ig/StructureDefinition/ae-grade"
CONDITION_RELATED = "http://hl7.org/fhir/StructureDefinition/condition-related"

# NCI Thesaurus concepts of the CTCAE grades (value set adverse-event-clinical-research-grades).
NCIT_GRADES: dict[int, tuple[str, str]] = {
    1: ("C41338", "Grade 1 Mild Adverse Event"),
    2: ("C41339", "Grade 2 Moderate Adverse Event"),
    3: ("C41340", "Grade 3 Severe Adverse Event"),
    4: ("C41337", "Grade 4 Life Threatening or Disabling Adverse Event"),
    5: ("C48275", "Grade 5 Death Related to Adverse Event"),
}
SEVERITY = {1: "mild", 2: "moderate", 3: "severe", 4: "severe", 5: "severe"}

# The facts that make an event serious (ICH E2A), in the order they are named.
SERIOUSNESS_FACTS: tuple[tuple[str, str], ...] = (
    ("death", "results in death"),
    ("life_threatening", "is life-threatening"),
    ("hospitalization", "requires or prolongs hospitalisation"),
    ("disabling", "results in persistent or significant disability"),
)

# Relatedness -> WHO-UMC causality (adverse-event-causality-assess); "unrelated"
# has no WHO-UMC category and keeps the registry's coding alone.
CAUSALITY = {
    "definite": ("Certain", "Certain"),
    "probable": ("Probably-Likely", "Probably/Likely"),
    "possible": ("Possible", "Possible"),
    "unlikely": ("Unlikely", "Unlikely"),
}
OUTCOME = {
    "resolved": "resolved",
    "resolved_with_sequelae": "resolvedWithSequelae",
    "ongoing": "ongoing",
    "death": "fatal",
}

LATERALITY: dict[str, tuple[str, str]] = {
    "left": ("7771000", "Left"),
    "right": ("24028007", "Right"),
    "bilateral": ("51440002", "Right and left"),
    "midline": ("399488007", "Midline"),
}
BODY_SITE: dict[str, tuple[str, str]] = {
    "sacrum": ("54735007", "Bone structure of sacrum"),
    "iliac": ("22356005", "Bone structure of ilium"),
    "femoral_neck": ("29627003", "Bone structure of neck of femur"),
    "other": ("272673000", "Bone structure"),
}
FRACTURE_SNOMED = {
    "insufficiency": ("125605004", "Fracture of bone"),
    "pathological": ("268029009", "Pathological fracture"),
}
# (type, aetiology) -> ICD-10; "" stands for any other aetiology.
FRACTURE_ICD10: dict[tuple[str, str], tuple[str, str]] = {
    ("insufficiency", "osteoporosis"): (
        "M80.9",
        "Unspecified osteoporosis with pathological fracture",
    ),
    ("insufficiency", ""): ("M84.3", "Stress fracture, not elsewhere classified"),
    ("pathological", "metastasis"): ("M90.7", "Fracture of bone in neoplastic disease"),
    ("pathological", "myeloma"): ("M90.7", "Fracture of bone in neoplastic disease"),
    ("pathological", ""): ("M84.4", "Pathological fracture, not elsewhere classified"),
}
# Aetiologies written as a Condition of their own (mCODE's cancer conditions).
AETIOLOGY_CONDITION: dict[str, dict[str, tuple[str, str]]] = {
    "metastasis": {
        SNOMED: ("94222008", "Secondary malignant neoplasm of bone"),
        ICD10: ("C79.5", "Secondary malignant neoplasm of bone and bone marrow"),
    },
    "myeloma": {
        SNOMED: ("109989006", "Multiple myeloma"),
        ICD10: ("C90.0", "Multiple myeloma"),
    },
}
# Security labels on every resource: restricted, and pseudonymised unless identified.
CONFIDENTIALITY = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
    "code": "R",
    "display": "restricted",
}
PSEUDONYMISED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "PSEUDED",
    "display": "pseudonymized",
}


def security(identified: bool) -> list[dict[str, str]]:
    return [CONFIDENTIALITY] if identified else [CONFIDENTIALITY, PSEUDONYMISED]


# --- the registry's own definitions -------------------------------------------------


def extension_url(name: str) -> str:
    return f"{CANONICAL}/StructureDefinition/{name}"


def code_system_url(name: str) -> str:
    return f"{CANONICAL}/CodeSystem/{name}"


def identifier_system(name: str) -> str:
    return f"{CANONICAL}/sid/{name}"


# name -> (value type, context resource(s), short description)
EXTENSIONS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "age-at-procedure": (
        "Age",
        ("Procedure",),
        "The patient's age in whole years on the procedure's local date.",
    ),
    "imaging-guidance": ("Coding", ("Procedure",), "The imaging that guided the screw placement."),
    "anaesthesia": ("Coding", ("Procedure",), "The anaesthesia of the procedure."),
    "laterality": (
        "CodeableConcept",
        ("Condition.bodySite",),
        "The side of the body site (SNOMED CT qualifier and the registry's code).",
    ),
    "all-fractures": (
        "boolean",
        ("Encounter", "AdverseEvent"),
        "It covers every fracture of the procedure, including any recorded later.",
    ),
    "fracture-type": (
        "Coding",
        ("Condition",),
        "Insufficiency, pathological or impending (a risk, not a fracture).",
    ),
    "fracture-aetiology": (
        "Coding",
        ("Condition",),
        "The cause of the fracture as the registry records it.",
    ),
    "screws": ("positiveInt", ("Condition",), "How many screws fixed this fracture."),
    "cement-augmented": ("boolean", ("Condition",), "Whether the screws were cement-augmented."),
    "department-time-zone": (
        "code",
        ("Organization",),
        "The department's IANA time zone (local dates and the 24-hour limit).",
    ),
    "contact-kind": ("Coding", ("Encounter",), "Clinical visit, imaging or phone."),
    "complication-window": (
        "Coding",
        ("AdverseEvent",),
        "Per-procedural, early (< 24 h) or delayed (>= 24 h).",
    ),
    "hours-after-end": (
        "decimal",
        ("AdverseEvent",),
        "Hours from the procedure's end to the onset.",
    ),
    "during-procedure": (
        "boolean",
        ("AdverseEvent",),
        "The event occurred during the procedure (no onset time).",
    ),
    "onset-date": ("date", ("AdverseEvent",), "The onset day when its time is unknown."),
    "other-specify": ("string", ("AdverseEvent",), "The text of an 'Other, specify' CTCAE term."),
    "recorded-facts": (
        "string",
        ("AdverseEvent",),
        "The clinician's recorded facts (JSON), from which the grade is derived.",
    ),
    "auto-grade": (
        "integer",
        ("AdverseEvent",),
        "The CTCAE grade the grading service derived from the facts.",
    ),
    "grade-override": (
        "integer",
        ("AdverseEvent",),
        "The grade a clinician set instead, with the reason.",
    ),
    "override-reason": (
        "string",
        ("AdverseEvent",),
        "Why the grade was overridden (identified exports only).",
    ),
    "grade-rationale": (
        "string",
        ("AdverseEvent",),
        "The grading service's rationale for the automatic grade.",
    ),
    "outcome-facts": ("string", ("AdverseEvent",), "The CIRSE/SIR outcome facts (JSON)."),
    "cirse-grade": ("integer", ("AdverseEvent",), "The CIRSE classification grade."),
    "sir-class": ("string", ("AdverseEvent",), "The SIR adverse-event class."),
    "seriousness-criteria": (
        "string",
        ("AdverseEvent",),
        "Which ICH E2A criteria made the event serious.",
    ),
}


def _code_systems() -> dict[str, tuple[str, list[tuple[str, str]]]]:
    from complications.models import Outcome, Relatedness, Window
    from registry.models import (
        Aetiology,
        Anesthesia,
        ContactKind,
        FractureType,
        Guidance,
        Side,
        Site,
    )

    def concepts(choices: Any) -> list[tuple[str, str]]:
        return [(value, str(label)) for value, label in choices.choices]

    return {
        "fracture-type": ("Fracture types", concepts(FractureType)),
        "fracture-site": ("Anatomical sites", concepts(Site)),
        "laterality": ("Sides", concepts(Side)),
        "aetiology": ("Aetiologies", concepts(Aetiology)),
        "imaging-guidance": ("Imaging guidance", concepts(Guidance)),
        "anaesthesia": ("Anaesthesia", concepts(Anesthesia)),
        "contact-kind": ("Follow-up contact kinds", concepts(ContactKind)),
        "complication-window": ("Complication windows", concepts(Window)),
        "outcome": ("Complication outcomes", concepts(Outcome)),
        "relatedness": ("CTCAE attribution to the procedure", concepts(Relatedness)),
        "procedure": (
            "Registry procedures",
            [("pigsf", "Percutaneous image-guided screw fixation")],
        ),
    }


def code_systems() -> list[dict[str, Any]]:
    """The registry's CodeSystems, as FHIR R4 resources."""
    return [
        {
            "resourceType": "CodeSystem",
            "id": f"pigsf-{name}",
            "url": code_system_url(name),
            "version": IG_VERSION,
            "name": "".join(part.capitalize() for part in name.split("-")),
            "title": title,
            "status": "active",
            "experimental": False,
            "publisher": "PIGSF complication registry",
            "description": f"{title} as the PIGSF registry records them.",
            "caseSensitive": True,
            "content": "complete",
            "count": len(concepts),
            "concept": [{"code": code, "display": display} for code, display in concepts],
        }
        for name, (title, concepts) in _code_systems().items()
    ]


def structure_definitions() -> list[dict[str, Any]]:
    """The registry's extensions, as FHIR R4 StructureDefinitions (differentials)."""
    definitions = []
    for name, (value_type, contexts, description) in EXTENSIONS.items():
        url = extension_url(name)
        definitions.append(
            {
                "resourceType": "StructureDefinition",
                "id": f"pigsf-{name}",
                "url": url,
                "version": IG_VERSION,
                "name": "".join(part.capitalize() for part in name.split("-")),
                "title": name,
                "status": "active",
                "publisher": "PIGSF complication registry",
                "description": description,
                "fhirVersion": "4.0.1",
                "kind": "complex-type",
                "abstract": False,
                "context": [{"type": "element", "expression": context} for context in contexts],
                "type": "Extension",
                "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Extension",
                "derivation": "constraint",
                "differential": {
                    "element": [
                        {
                            "id": "Extension",
                            "path": "Extension",
                            "short": description,
                            "definition": description,
                            "max": "1",
                        },
                        {"id": "Extension.extension", "path": "Extension.extension", "max": "0"},
                        {"id": "Extension.url", "path": "Extension.url", "fixedUri": url},
                        {
                            "id": "Extension.value[x]",
                            "path": "Extension.value[x]",
                            "min": 1,
                            "type": [{"code": value_type}],
                        },
                    ]
                },
            }
        )
    return definitions
