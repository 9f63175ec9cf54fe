"""Load CTCAE term translations from a CSV file (UTF-8, with a header row).

Columns: ``code`` (MedDRA code), ``name`` (the term in that language), optionally ``grade_1`` ..
``grade_5`` (the grade texts) and ``clauses`` (``English clause => translation`` pairs separated
by `` | ``). ``--language fr`` says which language the file is in. A row updates the term's
translation if there is one; an unknown code is reported and the whole file refused.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from complications.models import CtcaeTerm, CtcaeTermTranslation

GRADES = [f"grade_{g}" for g in range(1, 6)]


def parse_clauses(text: str) -> dict[str, str]:
    pairs = {}
    for item in filter(None, (part.strip() for part in text.split(" | "))):
        english, sep, translated = item.partition("=>")
        if not sep or not english.strip() or not translated.strip():
            raise ValueError(f"a clause must read 'English => translation': {item!r}")
        pairs[english.strip()] = translated.strip()
    return pairs


class Command(BaseCommand):
    help = "Load CTCAE term names, grade texts and clauses in another language from a CSV file."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("csv_file", type=Path)
        parser.add_argument("--language", required=True, help="e.g. fr")

    def handle(self, *args: Any, csv_file: Path, language: str, **options: Any) -> None:
        language = language.strip().lower()
        if not language or language == "en":
            raise CommandError("Give the language of the file (not en: English is the catalogue).")
        with csv_file.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
        if not rows or "code" not in rows[0] or "name" not in rows[0]:
            raise CommandError("The file needs a header with at least the columns code and name.")
        known = set(
            CtcaeTerm.objects.filter(code__in=[r["code"] for r in rows]).values_list(
                "code", flat=True
            )
        )
        errors = []
        for number, row in enumerate(rows, start=2):
            if row["code"] not in known:
                errors.append(f"line {number}: no CTCAE term {row['code']!r}")
            if not (row.get("name") or "").strip():
                errors.append(f"line {number}: the name is empty")
            try:
                parse_clauses(row.get("clauses") or "")
            except ValueError as error:
                errors.append(f"line {number}: {error}")
        if errors:
            raise CommandError("Nothing loaded:\n" + "\n".join(errors))
        with transaction.atomic():
            for row in rows:
                CtcaeTermTranslation.objects.update_or_create(
                    term_id=row["code"],
                    language=language,
                    defaults={
                        "name": row["name"].strip(),
                        "clauses": parse_clauses(row.get("clauses") or ""),
                        **{g: (row.get(g) or "").strip() for g in GRADES},
                    },
                )
        self.stdout.write(f"{len(rows)} term translation(s) loaded ({language}).")
