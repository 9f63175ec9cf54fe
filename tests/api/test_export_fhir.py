"""The FHIR R4 export of the whole demo cohort: valid against the official R4
4.0.1 JSON schema, the study's counts, references that resolve inside the
Bundle, stable identifiers, the CTCAE grade and seriousness, standard codes."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import override_settings

from complications.demo import build_cohort
from complications.exports import MEDDRA
from complications.exports import fhir_terms as t
from complications.exports.fhir import seriousness
from complications.models import ComplicationEvent
from registry.models import FollowUp, Fracture, Patient
from tests.conftest import api_client_for
from tests.fhir_schema import assert_valid, errors

URL = "/api/v1/export/fhir/"
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


def of_type(data: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == resource_type]


def extension(resource: dict[str, Any], url: str) -> Any:
    (found,) = [x for x in resource.get("extension", []) if x["url"] == url]
    return next(value for key, value in found.items() if key.startswith("value"))


@pytest.fixture
def cohort(department):
    build_cohort(department)
    return department


@pytest.mark.django_db
class TestDemoCohortBundle:
    def test_it_holds_the_studys_cohort_as_valid_linked_resources(self, head, cohort):
        data = fetch(api_client_for(head))
        assert_valid(data)  # the Bundle and every resource against the R4 4.0.1 schema
        assert data["type"] == "collection"
        types = Counter(entry["resource"]["resourceType"] for entry in data["entry"])
        # The demo cohort records 22 complications (3 per-procedural, 4 early,
        # 15 delayed on 14 fractures: complications.demo).
        assert ComplicationEvent.objects.count() == 22
        cancers = (
            Fracture.objects.filter(aetiology__in=["metastasis", "myeloma"])
            .values("procedure__patient", "aetiology")
            .distinct()
            .count()
        )
        assert cancers > 0
        assert types == {
            "Organization": 1,
            "Patient": 94,
            "Procedure": 95,
            "Condition": 110 + cancers,
            "Encounter": FollowUp.objects.count(),
            "AdverseEvent": 22,
        }
        full_urls = [entry["fullUrl"] for entry in data["entry"]]
        assert len(set(full_urls)) == len(full_urls)
        assert all(url.startswith("urn:uuid:") for url in full_urls)
        cited = list(references(data["entry"]))
        assert cited and set(cited) <= set(full_urls)

        # the check can fail: a code outside a required binding, an empty array
        event = of_type(data, "AdverseEvent")[0]
        assert errors(event) == []
        assert errors({**event, "actuality": "foo"})
        assert errors({**event, "subjectMedicalHistory": []})
        assert errors({**data, "entry": []})
        kind = {e["fullUrl"]: e["resource"]["resourceType"] for e in data["entry"]}
        for entry in data["entry"]:
            resource = entry["resource"]
            if resource["resourceType"] in ("Procedure", "Condition", "AdverseEvent", "Encounter"):
                assert kind[resource["subject"]["reference"]] == "Patient"
            if resource["resourceType"] == "Procedure":
                assert {kind[r["reference"]] for r in resource["reasonReference"]} == {"Condition"}
            if resource["resourceType"] == "Encounter":
                assert [kind[r["reference"]] for r in resource["reasonReference"]] == ["Procedure"]
                assert {kind[d["condition"]["reference"]] for d in resource["diagnosis"]} == {
                    "Condition"
                }
                assert kind[resource["serviceProvider"]["reference"]] == "Organization"
            if resource["resourceType"] == "AdverseEvent":
                assert kind[resource["suspectEntity"][0]["instance"]["reference"]] == "Procedure"
                assert {kind[r["reference"]] for r in resource["subjectMedicalHistory"]} == {
                    "Condition"
                }

    def test_adverse_events_carry_meddra_the_ae_grade_and_severity(self, head, cohort):
        data = fetch(api_client_for(head))
        stored = Counter(ComplicationEvent.objects.values_list("term_id", "grade"))
        exported = Counter()
        for event in of_type(data, "AdverseEvent"):
            (coding,) = event["event"]["coding"]
            assert (coding["system"], coding["version"]) == (MEDDRA, "20.1")
            grade_concept = extension(event, t.AE_GRADE)
            (grade_coding,) = grade_concept["coding"]
            assert grade_coding["system"] == t.NCIT
            grade = {code: g for g, (code, _d) in t.NCIT_GRADES.items()}[grade_coding["code"]]
            exported[(coding["code"], grade)] += 1
            assert event["actuality"] == "actual"
            assert event["severity"]["coding"][0]["code"] == SEVERITY[grade]
            assert extension(event, t.extension_url("auto-grade")) in range(1, 6)
        assert exported == stored

        # seriousness follows the recorded facts, not the grade
        by_id = {e.pk: e for e in ComplicationEvent.objects.all()}
        for event in of_type(data, "AdverseEvent"):
            recorded = by_id[int(event["identifier"]["value"])]
            expected, _criteria = seriousness(recorded.facts, recorded.outcome)
            if expected is None:
                assert "seriousness" not in event
            else:
                code = event["seriousness"]["coding"][0]["code"]
                assert code == ("serious" if expected else "non-serious")

    def test_identifiers_are_https_and_stable_from_one_export_to_the_next(self, head, cohort):
        client = api_client_for(head)
        first, second = fetch(client), fetch(client)
        assert first["identifier"]["system"].startswith("https://")
        assert first["id"] != second["id"]  # each export is a Bundle of its own
        assert [e["fullUrl"] for e in first["entry"]] == [e["fullUrl"] for e in second["entry"]]
        for entry in first["entry"]:
            resource = entry["resource"]
            identifiers = resource["identifier"]
            for identifier in identifiers if isinstance(identifiers, list) else [identifiers]:
                assert identifier["system"].startswith(t.CANONICAL + "/sid/")
            codes = {label["code"] for label in resource["meta"]["security"]}
            assert codes == {"R", "PSEUDED"}

        data = first
        fractures = [
            c
            for c in of_type(data, "Condition")
            if c["identifier"][0]["system"].endswith("/fracture")
        ]
        assert len(fractures) == 110
        impending = 0
        for condition in fractures:
            systems = {coding["system"] for coding in condition["code"]["coding"]}
            kind = extension(condition, t.extension_url("fracture-type"))["code"]
            if kind == "impending":
                impending += 1  # a risk: no fracture code
                assert systems == {t.code_system_url("fracture-type")}
                assert condition["category"][0]["coding"][0]["code"] == "problem-list-item"
                assert condition["clinicalStatus"]["coding"][0]["code"] == "active"  # con-3
            else:
                assert {t.SNOMED, t.ICD10} <= systems
            laterality = extension(condition["bodySite"][0], t.extension_url("laterality"))
            assert laterality["coding"][0]["system"] == t.SNOMED
        assert impending == 17
        urls = {e["resource"]["id"]: e["resource"] for e in data["entry"]}
        related = 0
        for condition in of_type(data, "Condition"):
            aetiology = [
                x for x in condition.get("extension", []) if x["url"] == t.CONDITION_RELATED
            ]
            if aetiology:
                target = urls[aetiology[0]["valueReference"]["reference"].removeprefix("urn:uuid:")]
                assert target["code"]["coding"][0]["code"] in {"94222008", "109989006"}
                assert target["subject"] == condition["subject"]
                related += 1
        assert related > 0

    def test_patients_have_no_birth_date_or_registry_id_by_default(self, head, cohort):
        data = fetch(api_client_for(head))
        patients = of_type(data, "Patient")
        assert all("birthDate" not in p and "name" not in p for p in patients)
        assert all(len(p["identifier"]) == 1 for p in patients)
        assert Counter(p["gender"] for p in patients) == {"female": 48, "male": 46}
        assert "PIGSF-0" not in json.dumps(data)
        ages = [
            extension(p, t.extension_url("age-at-procedure"))["value"]
            for p in of_type(data, "Procedure")
        ]
        assert len(ages) == 95 and min(ages) == 32 and max(ages) >= 88

    def test_the_identifiers_permission_adds_birth_dates_and_registry_ids(self, head, cohort):
        head.user_permissions.add(Permission.objects.get(codename="export_identifiers"))
        data = fetch(api_client_for(head))
        assert_valid(data)
        births = {p.registry_id: p.birth_date.isoformat() for p in Patient.objects.all()}
        assert {
            p["identifier"][1]["value"]: p["birthDate"] for p in of_type(data, "Patient")
        } == births
        assert {label["code"] for label in data["meta"]["security"]} == {"R"}

    def test_filters_narrow_the_bundle_and_a_big_one_points_to_bulk_data(self, head, cohort):
        data = fetch(api_client_for(head), fracture_type="impending")
        assert_valid(data)
        types = Counter(e["resource"]["resourceType"] for e in data["entry"])
        assert types["Condition"] >= 17
        assert set(references(data["entry"])) <= {e["fullUrl"] for e in data["entry"]}
        # beyond the cap, a 413 pointing to the Bulk Data export
        with override_settings(FHIR_BUNDLE_MAX_ENTRIES=10):
            response = api_client_for(head).get(URL)
        assert response.status_code == 413
        assert "$export" in response.json()["detail"]


@pytest.mark.parametrize(
    ("facts", "outcome", "expected"),
    [
        ({}, "", None),  # nothing recorded: seriousness omitted
        ({"hospitalization": True}, "", True),
        ({"death": True}, "", True),
        ({}, "death", True),
        ({"life_threatening": True, "hospitalization": False}, "", True),
        ({"disabling": True}, "resolved", True),
        ({"hospitalization": False}, "", None),  # the others unknown
        (
            {
                "hospitalization": False,
                "disabling": False,
                "life_threatening": False,
                "death": False,
            },
            "",
            False,
        ),
        (
            {
                "hospitalization": False,
                "disabling": False,
                "life_threatening": False,
                "death": False,
            },
            "death",
            True,
        ),
    ],
)
def test_seriousness_from_the_ich_e2a_facts(facts, outcome, expected):
    assert seriousness(facts, outcome)[0] is expected


@pytest.mark.django_db
class TestAccess:
    def test_a_radiologist_may_not_export(self, api):
        assert api.get(URL).status_code == 403

    def test_an_empty_selection_is_a_valid_bundle_without_entries(self, head):
        data = fetch(api_client_for(head))
        assert "entry" not in data
        assert_valid(data)
