"""The FHIR R4 export of the whole demo cohort: valid resources, the study's
counts, references that resolve inside the Bundle, the CTCAE mapping."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from fhir.resources.R4B.bundle import Bundle

from complications.demo import build_cohort
from complications.exports import MEDDRA, REGISTRY_FHIR
from complications.models import ComplicationEvent
from registry.models import Patient
from tests.conftest import api_client_for

URL = "/api/v1/export/fhir/"
GRADE_EXTENSION = f"{REGISTRY_FHIR}:StructureDefinition:ctcae-grade"
SEVERITY = {1: "mild", 2: "moderate", 3: "severe", 4: "severe", 5: "severe"}


def references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference":
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def fetch(client, **query) -> dict[str, Any]:
    response = client.get(URL, query)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/fhir+json"
    return json.loads(b"".join(response.streaming_content))


@pytest.fixture
def cohort(department):
    build_cohort(department)
    return department


@pytest.mark.django_db
class TestDemoCohortBundle:
    def test_it_holds_the_studys_cohort_as_valid_linked_resources(self, head, cohort):
        data = fetch(api_client_for(head))
        bundle = Bundle.model_validate(data)  # every resource against the R4(B) models
        assert bundle.type == "collection"
        types = Counter(entry.resource.get_resource_type() for entry in bundle.entry)
        # The demo cohort records 22 complications (3 per-procedural, 4 early,
        # 15 delayed on 14 fractures: complications.demo).
        assert ComplicationEvent.objects.count() == 22
        assert types == {"Patient": 94, "Procedure": 95, "Condition": 110, "AdverseEvent": 22}

        full_urls = [entry["fullUrl"] for entry in data["entry"]]
        assert len(set(full_urls)) == len(full_urls)
        assert all(url.startswith("urn:uuid:") for url in full_urls)
        targets = set(full_urls)
        cited = list(references(data["entry"]))
        assert cited and all(ref in targets for ref in cited)

    def test_references_point_at_the_right_kinds(self, head, cohort):
        data = fetch(api_client_for(head))
        kind = {e["fullUrl"]: e["resource"]["resourceType"] for e in data["entry"]}
        for entry in data["entry"]:
            resource = entry["resource"]
            if resource["resourceType"] in ("Procedure", "Condition", "AdverseEvent"):
                assert kind[resource["subject"]["reference"]] == "Patient"
            if resource["resourceType"] == "Procedure":
                assert {kind[r["reference"]] for r in resource["reasonReference"]} == {"Condition"}
            if resource["resourceType"] == "AdverseEvent":
                assert kind[resource["suspectEntity"][0]["instance"]["reference"]] == "Procedure"
                assert {kind[r["reference"]] for r in resource["subjectMedicalHistory"]} == {
                    "Condition"
                }

    def test_adverse_events_carry_the_meddra_term_and_the_ctcae_grade(self, head, cohort):
        data = fetch(api_client_for(head))
        events = [
            e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "AdverseEvent"
        ]
        stored = Counter(ComplicationEvent.objects.values_list("term_id", "grade"))
        exported = Counter()
        for event in events:
            (coding,) = event["event"]["coding"]
            assert coding["system"] == MEDDRA
            (grade,) = [
                x["valueInteger"] for x in event["extension"] if x["url"] == GRADE_EXTENSION
            ]
            exported[(coding["code"], grade)] += 1
            assert event["actuality"] == "actual"
            assert event["severity"]["coding"][0]["code"] == SEVERITY[grade]
            assert event["severity"]["text"] == f"CTCAE v5.0 grade {grade}"
            serious = event["seriousness"]["coding"][0]["code"]
            assert serious == ("serious" if grade >= 3 else "non-serious")
        assert exported == stored

    def test_patients_have_no_birth_date_or_registry_id_by_default(self, head, cohort):
        data = fetch(api_client_for(head))
        patients = [
            e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "Patient"
        ]
        assert all(
            "birthDate" not in p and "identifier" not in p and "name" not in p for p in patients
        )
        assert Counter(p["gender"] for p in patients) == {"female": 48, "male": 46}
        text = json.dumps(data)
        assert "PIGSF-0" not in text
        ages = [
            x["valueAge"]["value"]
            for e in data["entry"]
            if e["resource"]["resourceType"] == "Procedure"
            for x in e["resource"]["extension"]
            if x["url"].endswith("age-at-procedure")
        ]
        assert len(ages) == 95 and min(ages) == 32 and max(ages) >= 88

    def test_the_identifiers_permission_adds_birth_dates_and_registry_ids(self, head, cohort):
        head.user_permissions.add(Permission.objects.get(codename="export_identifiers"))
        data = fetch(api_client_for(head))
        patients = [
            e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "Patient"
        ]
        births = {p.registry_id: p.birth_date.isoformat() for p in Patient.objects.all()}
        assert {p["identifier"][0]["value"]: p["birthDate"] for p in patients} == births

    def test_filters_narrow_the_bundle(self, head, cohort):
        data = fetch(api_client_for(head), fracture_type="impending")
        types = Counter(e["resource"]["resourceType"] for e in data["entry"])
        assert types["Condition"] == 17
        assert all(
            ref in {e["fullUrl"] for e in data["entry"]} for ref in references(data["entry"])
        )


@pytest.mark.django_db
class TestAccess:
    def test_a_radiologist_may_not_export(self, api):
        assert api.get(URL).status_code == 403

    def test_an_empty_selection_is_an_empty_valid_bundle(self, head):
        data = fetch(api_client_for(head))
        assert Bundle.model_validate(data).entry in (None, [])
