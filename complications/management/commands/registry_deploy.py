"""The data steps of a release, run after ``migrate`` on every deploy.

Migrations freeze what they write, so what follows the code lives here instead:
the project's newest curated CTCAE catalogue (``ctcae_import``, which re-grades
the complications of a changed term or refuses, naming them) and the outcome
summary recomputed from the clinical rows (``outcomes_rebuild``), whose shape
the code defines. Both are idempotent: a second run changes nothing.
"""

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "After migrate, at every release: load the newest curated CTCAE catalogue and rebuild "
        "the outcome summary. Idempotent."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument(
            "--no-regrade",
            action="store_true",
            help="do not queue the background regrade when the catalogue changed",
        )

    def handle(self, *args, no_regrade: bool = False, **options) -> None:  # type: ignore[no-untyped-def]
        call_command("ctcae_import", no_regrade=no_regrade, stdout=self.stdout, stderr=self.stderr)
        call_command("outcomes_rebuild", stdout=self.stdout, stderr=self.stderr)
