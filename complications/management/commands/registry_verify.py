"""Recompute every derived value from the clinical rows and list what differs."""

from django.core.management.base import BaseCommand, CommandError

from complications.verify import Checked, registry_differences
from registry.models import Department


class Command(BaseCommand):
    help = (
        "Recompute each complication's grade, rationale, window, hours after the end and "
        "CIRSE/SIR classes, and the outcome summary, from the clinical rows; print one line "
        "per difference. Read-only, safe on a live registry. Exit status 1 when anything differs."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--department", metavar="CODE", help="check this department only")

    def handle(self, *args, department: str | None = None, **options) -> None:  # type: ignore[no-untyped-def]
        departments = None
        if department is not None:
            departments = Department.objects.filter(code=department)
            if not departments.exists():
                raise CommandError(f"No department has the code {department!r}.")
        checked = Checked()
        found = 0
        for difference in registry_differences(departments=departments, checked=checked):
            found += 1
            self.stdout.write(
                f"{difference.record}: {difference.field}: "
                f"stored {difference.stored!r}, recomputed {difference.recomputed!r}"
            )
        scope = f"department {department}" if department else "every department"
        what = (
            f"{checked.complications:,} complications and the outcome summary of "
            f"{checked.procedures:,} procedures ({scope})"
        )
        if found:
            raise CommandError(
                f"{found:,} difference(s) in {what}. Correct the clinical rows or re-derive "
                "(manage.py outcomes_rebuild for the summary).",
                returncode=1,
            )
        self.stdout.write(f"No difference: {what} match a recomputation.")
