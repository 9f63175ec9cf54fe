"""The implementation guide in docs/fhir/ is what the code writes: its definitions
are those ``manage.py registry_fhir_ig`` generates, valid R4, and they define
every registry extension and code the example Bundle (and so the export) uses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from complications.exports import fhir_terms as t
from complications.management.commands.registry_fhir_ig import definitions
from tests.fhir_schema import assert_valid

DOCS = Path(__file__).resolve().parents[2] / "docs" / "fhir"


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


@pytest.mark.django_db
def test_the_committed_definitions_are_those_the_code_writes():
    written = definitions()
    on_disk = {p.name for p in DOCS.glob("*.json") if p.name != "example-bundle.json"}
    assert on_disk == set(written), "run: manage.py registry_fhir_ig"
    for name, resource in written.items():
        assert json.loads((DOCS / name).read_text(encoding="utf-8")) == resource, name
    assert_valid(written.values())
    assert all(r["url"].startswith("https://") for r in written.values())


@pytest.mark.django_db
def test_the_example_bundle_is_valid_and_every_registry_term_in_it_is_defined():
    bundle = json.loads((DOCS / "example-bundle.json").read_text(encoding="utf-8"))
    assert_valid(bundle)
    resources = definitions().values()
    extensions = {r["url"] for r in resources if r["resourceType"] == "StructureDefinition"}
    codes = {
        (r["url"], concept["code"])
        for r in resources
        if r["resourceType"] == "CodeSystem"
        for concept in r["concept"]
    }
    used_extensions = {
        node["url"]
        for node in walk(bundle)
        if "url" in node and node["url"].startswith(t.CANONICAL)
    }
    used_codes = {
        (node["system"], node["code"])
        for node in walk(bundle)
        if node.get("system", "").startswith(t.code_system_url(""))
    }
    assert used_extensions and used_extensions <= extensions
    assert used_codes and used_codes <= codes
    types = {node["resourceType"] for node in walk(bundle) if "resourceType" in node}
    assert types == {
        "Bundle",
        "Organization",
        "Patient",
        "Condition",
        "Procedure",
        "Encounter",
        "AdverseEvent",
    }
