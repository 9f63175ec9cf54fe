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
        parser.add_argument(
            "--curated",
            action="store_true",
            help="only the terms of the curated catalogue (stored terms marked curated)",
        )
        parser.add_argument(
            "--clauses",
            action="store_true",
            help="list each term's clauses: reached by facts, or checklist only",
        )

    def handle(  # type: ignore[no-untyped-def]
        self,
        *args,
        file: str | None = None,
        curated: bool = False,
        clauses: bool = False,
        **options,
    ) -> None:
        if file:
            path = Path(file)
            reader = (
                ctcae.read_ctcae_xlsx if path.suffix.lower() == ".xlsx" else ctcae.read_ctcae_csv
            )
            terms = reader(path)
            if curated:
                codes = set(ctcae.load_curated_catalogue())
                terms = [term for term in terms if term.code in codes]
        else:
            stored = CtcaeTerm.objects.all()
            if curated:
                stored = stored.filter(curated=True)
            terms = [core_term(t) for t in stored]
        report = ctcae.coverage_report(terms)
        self.stdout.write(ctcae.format_report(report, clauses=clauses))
        if report.unreachable:
            raise CommandError(f"{len(report.unreachable)} clause(s) cannot be reached.")
