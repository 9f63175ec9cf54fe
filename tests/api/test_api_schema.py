"""The served OpenAPI schema validates and describes every field of the contract correctly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from complications.ctcae.facts import ADL, FACT_NAMES, INTERVENTIONS, SYMPTOMS

INT, STR, BOOL, NUM, ARR, OBJ = "integer", "string", "boolean", "number", "array", "object"

# component -> field -> (type, format or None, enum or None), as written in api-contract.md
CONTRACT: dict[str, dict[str, tuple[str, str | None, set[str] | None]]] = {
    "Department": {
        "id": (INT, None, None),
        "code": (STR, None, None),
        "name": (STR, None, None),
        "time_zone": (STR, None, None),
    },
    "Patient": {
        "id": (INT, None, None),
        "registry_id": (STR, None, None),
        "department": (INT, None, None),
        "sex": (STR, None, {"female", "male"}),
        "birth_date": (STR, "date", None),
    },
    "Procedure": {
        "id": (INT, None, None),
        "patient": (INT, None, None),
        "started_at": (STR, "date-time", None),
        "ended_at": (STR, "date-time", None),
        "guidance": (STR, None, {"ct", "cbct", "fluoroscopy", "ct_fluoroscopy"}),
        "anesthesia": (STR, None, {"general", "sedation", "local", "regional"}),
        "operator": (STR, None, None),
    },
    "Fracture": {
        "id": (INT, None, None),
        "procedure": (INT, None, None),
        "type": (STR, None, {"insufficiency", "pathological", "impending"}),
        "site": (
            STR,
            None,
            {
                "sacrum",
                "iliac",
                "acetabulum",
                "pubic_ramus",
                "femoral_neck",
                "proximal_femur",
                "other",
            },
        ),
        "side": (STR, None, {"left", "right", "bilateral", "midline"}),
        "screws": (INT, None, None),
        "cement_augmented": (BOOL, None, None),
    },
    "FollowUp": {
        "id": (INT, None, None),
        "procedure": (INT, None, None),
        "fractures": (ARR, None, None),
        "contact_at": (STR, "date-time", None),
        "kind": (STR, None, {"clinical", "imaging", "phone"}),
    },
    "Complication": {
        "id": (INT, None, None),
        "procedure": (INT, None, None),
        "fractures": (ARR, None, None),
        "term": (STR, None, None),
        "specify": (STR, None, None),
        "onset_at": (STR, "date-time", None),
        "onset_date": (STR, "date", None),
        "during_procedure": (BOOL, None, None),
        "facts": (OBJ, None, None),
        "grade_override": (INT, None, None),
        "override_reason": (STR, None, None),
        "description": (STR, None, None),
        "outcome": (STR, None, {"resolved", "resolved_with_sequelae", "ongoing", "death"}),
        "term_name": (STR, None, None),
        "soc": (STR, None, None),
        "auto_grade": (INT, None, None),
        "grade": (INT, None, None),
        "grade_rationale": (STR, None, None),
        "severity": (STR, None, {"minor", "major"}),
        "window": (STR, None, {"per_procedural", "early", "delayed"}),
        "hours_after_end": (NUM, None, None),
    },
}
READ_ONLY = {
    "id",
    "term_name",
    "soc",
    "auto_grade",
    "grade",
    "grade_rationale",
    "severity",
    "window",
    "hours_after_end",
}
RESOURCES = {
    "Department": "/api/v1/departments/",
    "Patient": "/api/v1/patients/",
    "Procedure": "/api/v1/procedures/",
    "Fracture": "/api/v1/fractures/",
    "FollowUp": "/api/v1/follow-ups/",
    "Complication": "/api/v1/complications/",
}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def _nodes(schema: dict[str, Any], node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The node and everything it points to through $ref / oneOf / allOf / anyOf."""
    yield node
    if "$ref" in node:
        yield from _nodes(schema, schema["components"]["schemas"][node["$ref"].split("/")[-1]])
    for key in ("oneOf", "allOf", "anyOf"):
        for sub in node.get(key, []):
            yield from _nodes(schema, sub)


def describe(schema: dict[str, Any], node: dict[str, Any]) -> tuple[set, set, set]:
    nodes = list(_nodes(schema, node))
    types = {n["type"] for n in nodes if "type" in n}
    formats = {n["format"] for n in nodes if "format" in n}
    enum = {value for n in nodes for value in n.get("enum", []) if value not in ("", None)}
    return types, formats, enum


OWN_MODULES = {"registry.api.views", "complications.api.views"}


def _own_patterns() -> list[Any]:
    from complications.api import urls as complication_urls
    from registry.api import urls as registry_urls

    patterns = [*registry_urls.urlpatterns[:2], *complication_urls.urlpatterns]
    flat: list[Any] = []
    for pattern in patterns:
        flat.extend(getattr(pattern, "url_patterns", [pattern]))
    own = [p for p in flat if getattr(p.callback, "cls", p.callback).__module__ in OWN_MODULES]
    return [path("api/v1/", include(own))]


def test_the_resources_of_this_api_generate_a_valid_schema_without_warnings():
    """The gate for these views alone, whatever other engineers' views do."""
    GENERATOR_STATS.reset()

    own = SchemaGenerator(patterns=_own_patterns()).get_schema(request=None, public=True)

    assert not GENERATOR_STATS, (
        dict(GENERATOR_STATS._warn_cache),
        dict(GENERATOR_STATS._error_cache),
    )
    validate_schema(own)
    assert "/api/v1/grading/preview/" in own["paths"]
    assert not any(url.startswith("/api/v1/stats/") for url in own["paths"])


def test_the_schema_command_validates_without_warnings(tmp_path):
    """The project's gate: every view of the API, this one's and the others'."""
    target = tmp_path / "schema.yml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    assert "/api/v1/complications/{id}/" in yaml.safe_load(target.read_text())["paths"]


@pytest.mark.parametrize(
    ("component", "field"),
    [(component, field) for component, fields in CONTRACT.items() for field in fields],
)
def test_every_contract_field_is_in_the_schema_with_its_type(schema, component, field):
    expected_type, expected_format, expected_enum = CONTRACT[component][field]
    response = schema["components"]["schemas"][component]

    types, formats, enum = describe(schema, response["properties"][field])

    assert expected_type in types
    if expected_format:
        assert expected_format in formats
    if expected_enum:
        assert enum == expected_enum
    request = schema["components"]["schemas"][f"{component}Request"]["properties"]
    assert (field in request) == (field not in READ_ONLY)


@pytest.mark.parametrize("component", list(CONTRACT))
def test_every_resource_has_the_six_operations(schema, component):
    collection = schema["paths"][RESOURCES[component]]
    item = schema["paths"][RESOURCES[component] + "{id}/"]

    assert {"get", "post"} <= set(collection)
    assert {"get", "put", "patch", "delete"} <= set(item)
    assert "department" in {p["name"] for p in collection["get"]["parameters"]}


@pytest.mark.parametrize("component", list(CONTRACT))
def test_writes_document_if_match_and_412_and_object_responses_their_etag(schema, component):
    item = schema["paths"][RESOURCES[component] + "{id}/"]

    for method in ("put", "patch", "delete"):
        names = {(p["in"], p["name"]) for p in item[method]["parameters"]}
        assert ("header", "If-Match") in names
        assert "412" in item[method]["responses"]
    assert "ETag" in item["get"]["responses"]["200"]["headers"]
    assert "ETag" in schema["paths"][RESOURCES[component]]["post"]["responses"]["201"]["headers"]
    assert {"400", "401", "403", "404"} <= set(item["patch"]["responses"])
    create = schema["paths"][RESOURCES[component]]["post"]
    assert ("header", "Idempotency-Key") in {(p["in"], p["name"]) for p in create["parameters"]}
    assert {"422", "503"} <= set(create["responses"])


def test_the_facts_object_lists_exactly_the_cores_keys_and_values(schema):
    facts = schema["components"]["schemas"]["ComplicationRequest"]["properties"]["facts"]

    assert facts["additionalProperties"] is False
    assert list(facts["properties"]) == list(FACT_NAMES)
    assert facts["properties"]["symptoms"]["enum"] == list(SYMPTOMS)
    assert facts["properties"]["intervention"]["enum"] == list(INTERVENTIONS)
    assert facts["properties"]["adl"]["enum"] == list(ADL)
    assert facts["properties"]["hospitalization"]["type"] == "boolean"
    assert facts["properties"]["transfusion_units"] == {
        **facts["properties"]["transfusion_units"],
        "type": "integer",
        "minimum": 0,
    }


def test_lists_are_paginated_with_page_size(schema):
    listing = schema["paths"]["/api/v1/patients/"]["get"]
    page = schema["components"]["schemas"]["PaginatedPatientList"]

    assert {"page", "page_size"} <= {p["name"] for p in listing["parameters"]}
    assert {"count", "next", "previous", "results"} <= set(page["properties"])


def test_the_grading_preview_and_the_terms_are_described(schema):
    preview = schema["paths"]["/api/v1/grading/preview/"]["post"]
    result = schema["components"]["schemas"]["GradeResult"]["properties"]
    term = schema["components"]["schemas"]["CtcaeTerm"]["properties"]
    terms = schema["paths"]["/api/v1/ctcae/terms/"]["get"]

    assert "200" in preview["responses"] and "400" in preview["responses"]
    assert {"grade", "severity", "rationale", "grades_available"} <= set(result)
    assert {"code", "term", "soc", "grades"} <= set(term)
    assert set(term["grades"]["properties"]) == {"1", "2", "3", "4", "5"}
    assert {"search", "soc"} <= {p["name"] for p in terms["parameters"]}


def test_the_token_endpoint_needs_no_authentication_and_answers_400_when_refused(schema):
    token = schema["paths"]["/api/v1/auth/token/"]["post"]

    assert not token.get("security") and not schema.get("security")
    assert "token" in schema["components"]["schemas"]["Token"]["properties"]
    assert {"200", "400", "429"} <= set(token["responses"])


@pytest.mark.django_db
def test_the_schema_is_served_to_authenticated_users_only(api, client):
    assert client.get("/api/v1/schema/").status_code == 401
    response = api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    assert "/api/v1/patients/" in response.json()["paths"]


def test_paginated_lists_document_the_404_of_a_page_past_the_end(schema):
    """Found by the schema fuzz: ``?page=999`` answers 404 ("Invalid page."), undocumented."""
    lists = [
        item["get"]
        for path, item in schema["paths"].items()
        if "get" in item and "page" in {p["name"] for p in item["get"].get("parameters", [])}
    ]

    assert len(lists) >= 7
    for operation in lists:
        assert "404" in operation["responses"], operation["operationId"]


def test_the_export_jobs_document_their_error_responses(schema):
    """Found by the schema fuzz: the job list and job views documented only their 200."""
    jobs = schema["paths"]["/api/v1/exports/"]["get"]
    job = schema["paths"]["/api/v1/exports/{id}/"]["get"]

    assert {"200", "401", "403", "404"} <= set(jobs["responses"])
    assert {"200", "401", "403", "404"} <= set(job["responses"])


def test_an_api_url_that_matches_no_route_is_a_json_404(api):
    response = api.get("/api/v1/exports/-1/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": "Not found."}
