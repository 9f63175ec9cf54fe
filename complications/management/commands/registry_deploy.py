"""The data steps of a release, run after ``migrate`` on every deploy.

Migrations freeze what they write, so what follows the code lives here instead:
the project's newest curated CTCAE catalogue (``ctcae_import``, which re-grades
the complications of a changed term or refuses, naming them) and the outcome
summary recomputed from the clinical rows (``outcomes_rebuild``), whose shape
the code defines. Both are idempotent: a second run changes nothing.
"""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from registry.models import Fracture


class Command(BaseCommand):
    help = (
        "After migrate, at every release: load the newest curated CTCAE catalogue, and rebuild "
        "the outcome summary if a fracture lacks its row. Idempotent."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument(
            "--no-regrade",
            action="store_true",
            help="do not queue the background regrade when the catalogue changed",
        )
        parser.add_argument(
            "--rebuild-summary",
            action="store_true",
            help="rebuild the outcome summary even if every fracture has its row",
        )

    def handle(
        self, *args, no_regrade: bool = False, rebuild_summary: bool = False, **options
    ) -> None:  # type: ignore[no-untyped-def]
        call_command("ctcae_import", no_regrade=no_regrade, stdout=self.stdout, stderr=self.stderr)
        # A migration that reshapes the summary empties it, and a load past the services leaves
        # fractures without their row; otherwise the services have kept it exact, and a full
        # rebuild (minutes per million fractures) would only delay the release.
        if rebuild_summary or Fracture.objects.filter(outcome__isnull=True).exists():
            call_command("outcomes_rebuild", stdout=self.stdout, stderr=self.stderr)
        else:
            self.stdout.write(
                "The outcome summary has a row for every fracture; not rebuilt "
                "(--rebuild-summary forces it)."
            )
