"""Coverage of the grading engine: for every term, which clauses the generic facts
reach and which only the term's own checklist reaches."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from complications import ctcae
from complications.models import CtcaeTerm
from complications.services import core_term


class Command(BaseCommand):
    help = "Report, per CTCAE term, the clauses reached by generic facts and by the checklist."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument(
            "file", nargs="?", help="an official .xlsx/.csv instead of the stored terms"
        )

    def handle(self, *args, file: str | None = None, **options) -> None:  # type: ignore[no-untyped-def]
        if file:
            path = Path(file)
            reader = (
                ctcae.read_ctcae_xlsx if path.suffix.lower() == ".xlsx" else ctcae.read_ctcae_csv
            )
            terms = reader(path)
        else:
            terms = [core_term(t) for t in CtcaeTerm.objects.all()]
        report = ctcae.coverage_report(terms)
        self.stdout.write(ctcae.format_report(report))
        if report.unreachable:
            raise CommandError(f"{len(report.unreachable)} clause(s) cannot be reached.")
