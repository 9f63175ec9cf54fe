"""Import CTCAE v5.0 terms into the registry.

Without a file: (re)load the project's curated catalogue. With a file: the
complete official spreadsheet as the NCI publishes it
(``CTCAE_v5.0_2017-11-27.xlsx``) or the same table as CSV. The complications of
every changed term are re-graded in the same transaction (an import that would
leave one fitting no grade is refused, naming them); then a background regrade
(Celery) checks every stored complication again.
"""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from complications import ctcae
from complications.services import catalogue_sync
from complications.tasks import regrade_all


class Command(BaseCommand):
    help = (
        "Import CTCAE v5.0 terms (the curated catalogue, or the official .xlsx / .csv) and regrade."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument(
            "file", nargs="?", help="CTCAE_v5.0_2017-11-27.xlsx or a CSV of the same layout"
        )
        parser.add_argument(
            "--no-regrade", action="store_true", help="do not queue the regrade task"
        )

    def handle(self, *args, file: str | None = None, no_regrade: bool = False, **options) -> None:  # type: ignore[no-untyped-def]
        if file is None:
            terms, curated, source = (
                list(ctcae.load_curated_catalogue().values()),
                True,
                "curated catalogue",
            )
        else:
            path = Path(file)
            if not path.exists():
                raise CommandError(f"{path}: no such file.")
            try:
                reader = (
                    ctcae.read_ctcae_xlsx
                    if path.suffix.lower() in {".xlsx", ".xlsm"}
                    else ctcae.read_ctcae_csv
                )
                terms, curated, source = reader(path), False, str(path)
            except ctcae.CatalogueError as exc:
                raise CommandError(f"{path}: {exc}") from exc
        try:
            counts = catalogue_sync(terms=terms, curated=curated)
        except ValidationError as exc:
            raise CommandError(
                "Nothing imported: the new criteria would strand stored complications.\n"
                + "\n".join(exc.messages)
            ) from exc
        self.stdout.write(
            f"{len(terms)} terms read from the {source}: {counts['created']} created, "
            f"{counts['updated']} updated, {counts['unchanged']} unchanged."
        )
        if not no_regrade and (counts["created"] or counts["updated"]):
            regrade_all.delay()
            self.stdout.write("Regrading of stored complications queued.")
