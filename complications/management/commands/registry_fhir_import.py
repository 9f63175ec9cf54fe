"""Import a FHIR R4 Bundle written by the registry's export into a department:
``manage.py registry_fhir_import FILE --department CODE`` (docs/fhir/README.md)."""

import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from complications.fhir_import import fhir_bundle_import
from registry.models import Department


class Command(BaseCommand):
    help = "Import a FHIR R4 Bundle exported by a PIGSF registry into a department."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("file", help="the Bundle (JSON) of GET /api/v1/export/fhir/")
        parser.add_argument("--department", required=True, help="the department's code")

    def handle(self, *args, file: str, department: str, **options) -> None:  # type: ignore[no-untyped-def]
        target = Department.objects.filter(code=department).first()
        if target is None:
            raise CommandError(f"No department with the code {department!r}.")
        try:
            bundle = json.loads(Path(file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read {file}: {exc}") from exc
        try:
            counts = fhir_bundle_import(bundle=bundle, department=target)
        except ValidationError as exc:
            raise CommandError(f"Nothing imported: {exc}") from exc
        self.stdout.write(", ".join(f"{count} {name}" for name, count in counts.items()))
