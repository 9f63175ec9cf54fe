"""Recompute the outcome summary that the rates read, or check it against a recomputation."""

import json

from django.core.management.base import BaseCommand, CommandError

from complications.live import bump_stats_version
from complications.outcomes.check import outcomes_differences
from complications.outcomes.refresh import outcomes_rebuild


class Command(BaseCommand):
    help = (
        "Recompute the outcome summary (FractureOutcome, ProcedureOutcome and their per-term "
        "rows) from the clinical tables, after writes that bypassed the services (bulk loads, "
        "raw SQL). With --check, change nothing and fail if it differs from a recomputation."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument(
            "--check",
            action="store_true",
            help="compare with a recomputation; exit 1 listing the differences, if any",
        )

    def handle(self, *args, check: bool = False, **options) -> None:  # type: ignore[no-untyped-def]
        if check:
            differences = outcomes_differences()
            if any(differences.values()):
                self.stderr.write(json.dumps(differences, indent=2, default=str))
                raise CommandError(
                    "The outcome summary differs from a recomputation "
                    "(run manage.py outcomes_rebuild)."
                )
            self.stdout.write("The outcome summary equals a recomputation.")
            return
        counts = outcomes_rebuild()
        # Statistics cached before the rebuild (open dashboards) read the old summary.
        bump_stats_version()
        self.stdout.write(
            "Rebuilt the outcome summary: "
            + ", ".join(f"{name} {count:,}" for name, count in counts.items())
        )
