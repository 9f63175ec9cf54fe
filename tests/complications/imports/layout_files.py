"""Small files in the import layout, for the import tests."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

from openpyxl import Workbook

from complications.imports import layout

START = "2020-03-04T09:15:00+01:00"


def cohort() -> dict[str, list[dict[str, object]]]:
    return {
        "patients": [{"registry_id": "P1", "sex": "female", "birth_date": "1940-05-12"}],
        "procedures": [
            {
                "registry_id": "P1",
                "started_at": START,
                "ended_at": "2020-03-04T10:30:00+01:00",
                "guidance": "ct",
                "anesthesia": "general",
                "operator": "Dr A",
            }
        ],
        "fractures": [
            {
                "registry_id": "P1",
                "procedure_started_at": START,
                "site": "sacrum",
                "side": "left",
                "type": "insufficiency",
                "screws": 2,
                "cement_augmented": "yes",
            }
        ],
        "follow_ups": [
            {
                "registry_id": "P1",
                "procedure_started_at": START,
                "contact_at": "2020-03-10T14:00:00+01:00",
                "kind": "clinical",
            }
        ],
        "complications": [
            {
                "registry_id": "P1",
                "procedure_started_at": START,
                "term": "Hematoma",
                "onset_date": "2020-03-06",
                "symptoms": "mild",
                "intervention": "none",
                "fracture_sites": "sacrum/left",
            }
        ],
    }


def workbook(path: Path, sheets: dict[str, list[dict[str, object]]]) -> Path:
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        columns = list(layout.BY_NAME[name].names) if name in layout.BY_NAME else list(rows[0])
        sheet.append(columns)
        for row in rows:
            sheet.append([row.get(c) for c in columns])
    book.save(path)
    return path


def csv_zip(path: Path, sheets: dict[str, list[dict[str, object]]]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, rows in sheets.items():
            out = io.StringIO()
            columns = list(rows[0])
            writer = csv.DictWriter(out, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
            archive.writestr(f"{name}.csv", out.getvalue())
    return path
