"""Write the registry's FHIR implementation guide artefacts (docs/fhir/): its
StructureDefinitions and CodeSystems as JSON, from ``fhir_terms``, and with
``--example`` a Bundle of the demo cohort, built in a department that exists
only inside a transaction rolled back at the end (nothing is left behind)."""

import json
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from complications.exports import fhir_terms


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def definitions() -> dict[str, dict[str, Any]]:
    """File name -> resource, for every definition of the guide."""
    resources = fhir_terms.structure_definitions() + fhir_terms.code_systems()
    return {f"{r['resourceType']}-{r['id']}.json": r for r in resources}


EXAMPLE_PROCEDURES = 20


class Command(BaseCommand):
    help = "Write the FHIR implementation guide's definitions (and an example Bundle)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--out", default="docs/fhir", help="the folder (docs/fhir)")
        parser.add_argument(
            "--example", action="store_true", help="also write example-bundle.json (demo cohort)"
        )

    def handle(self, *args, out: str, example: bool, **options) -> None:  # type: ignore[no-untyped-def]
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        for name, resource in definitions().items():
            write_json(folder / name, resource)
        if example:
            write_json(folder / "example-bundle.json", self.example())
        self.stdout.write(f"Wrote the guide's definitions to {folder}.")

    def example(self) -> dict[str, Any]:
        from complications.demo import build_cohort
        from complications.exports import Selection
        from complications.exports.fhir import fhir_bundle_chunks
        from registry.models import Department

        with transaction.atomic():
            department = Department.objects.create(
                code="EXAMPLE", name="Example department", time_zone="Europe/Paris"
            )
            build_cohort(department)
            reader = get_user_model()(username="fhir-example", is_superuser=True, is_active=True)
            reader.save()
            # The first EXAMPLE_PROCEDURES procedures: every kind of resource, a readable size.
            days = department.patients.values_list("procedures__started_on", flat=True)
            last = sorted(days)[EXAMPLE_PROCEDURES - 1]
            filters = {"department": department.pk, "date_to": last}
            selection = Selection(user=reader, filters=filters, identifiers=False)
            bundle = json.loads("".join(fhir_bundle_chunks(selection)))
            transaction.set_rollback(True)
        return bundle
