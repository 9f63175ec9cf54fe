"""Import a workbook (XLSX) or a ZIP of CSVs into a department: a dry run
unless --commit; prints the summary and every error (sheet, row, column)."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from complications.imports import import_file, import_reason, load_mapping
from complications.imports.plan import ERROR
from complications.models import ImportMapping
from registry.models import Department


class Command(BaseCommand):
    help = (
        "Import a workbook or a ZIP of CSVs in the import layout (docs/architecture.md, "
        "'Import') into a department, every row through the services. A dry run unless "
        "--commit; the commit writes everything or nothing."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("file", type=Path)
        parser.add_argument("--department", required=True, help="the department's code")
        parser.add_argument("--commit", action="store_true", help="write (default: dry run)")
        parser.add_argument("--mapping", help="a column mapping file (JSON or YAML)")
        parser.add_argument(
            "--saved-mapping", help="the name of a mapping saved for the department"
        )
        parser.add_argument("--report", type=Path, help="write the row-by-row report (CSV) here")

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            department = Department.objects.get(code=options["department"])
        except Department.DoesNotExist:
            raise CommandError(f"No department with the code {options['department']!r}.") from None
        mapping = {}
        try:
            if options["mapping"]:
                mapping = load_mapping(Path(options["mapping"]))
            elif options["saved_mapping"]:
                mapping = ImportMapping.objects.get(
                    department=department, name=options["saved_mapping"]
                ).mapping
        except ImportMapping.DoesNotExist:
            raise CommandError("No such saved mapping for this department.") from None
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        report_out = (
            open(options["report"], "w", encoding="utf-8", newline="")
            if options["report"]
            else None
        )
        try:
            report = import_file(
                department=department,
                path=path,
                mapping=mapping,
                commit=options["commit"],
                reason=import_reason(None, path.name),
                report_out=report_out,
            )
        finally:
            if report_out is not None:
                report_out.close()
        for sheet, counts in report.summary.items():
            self.stdout.write(
                f"{sheet:14} " + "  ".join(f"{action} {n}" for action, n in counts.items())
            )
        for error in report.errors:
            self.stdout.write(
                f"{ERROR}: {error['sheet']} row {error['row']} {error['column']} "
                f"{error['value']!r}: {error['message']}"
            )
        if report.errors:
            self.stdout.write(f"{len(report.errors)} error(s); nothing was written.")
            sys.exit(1)
        if report.committed:
            self.stdout.write("Imported.")
        else:
            self.stdout.write("Dry run: nothing was written (add --commit to import).")
