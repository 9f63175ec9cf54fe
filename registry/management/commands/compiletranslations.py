"""Compile the project's .po catalogues to .mo with polib.

Django's ``compilemessages`` needs GNU gettext's ``msgfmt``, which a fresh
machine with only Python and Node does not have; polib does the same in pure
Python, so set-up stays two commands.
"""

from pathlib import Path

import polib
from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Compile locale/*/LC_MESSAGES/*.po to .mo (no GNU gettext needed)."

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        compiled = 0
        for locale_dir in map(Path, settings.LOCALE_PATHS):
            for po_path in sorted(locale_dir.glob("*/LC_MESSAGES/*.po")):
                mo_path = po_path.with_suffix(".mo")
                if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
                    continue
                polib.pofile(str(po_path)).save_as_mofile(str(mo_path))
                compiled += 1
        self.stdout.write(f"{compiled} translation catalogue(s) compiled.")
