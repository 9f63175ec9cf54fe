"""A department's own spreadsheet (one row per fracture, French column names,
dd/mm/yyyy dates, complications in repeated columns) imported through a
column mapping: a dozen kinds of error are all reported with their row, in one
pass, and nothing is saved; once corrected, it imports cleanly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.utils import translation
from openpyxl import Workbook

from complications.imports import import_file, parse_mapping
from complications.models import ComplicationEvent
from registry.models import FollowUp, Fracture, Patient, Procedure

pytestmark = pytest.mark.django_db

HEADER = [
    "N° patient",
    "Sexe",
    "Date de naissance",
    "Début",
    "Fin",
    "Guidage",
    "Anesthésie",
    "Site",
    "Côté",
    "Type",
    "Vis",
    "Cimentoplastie",
    "Suivi",
    "Type de suivi",
    "Complication 1",
    "Date complication 1",
    "Symptômes 1",
    "Intervention 1",
    "Évolution 1",
    "Complication 2",
    "Date complication 2",
    "Symptômes 2",
    "Fractures 2",
    "Commentaire",
]

MAPPING = {
    "sheet": "Série",
    "date_formats": ["%d/%m/%Y"],
    "datetime_formats": ["%d/%m/%Y %H:%M"],
    "ignore": ["Commentaire"],
    "values": {
        "sex": {"F": "female", "H": "male"},
        "guidance": {"scanner": "ct", "scopie": "fluoroscopy"},
        "anesthesia": {"générale": "general", "locale": "local"},
        "site": {"sacrum": "sacrum", "aile iliaque": "iliac", "branche pubienne": "pubic_ramus"},
        "side": {"gauche": "left", "droit": "right"},
        "type": {"insuffisance": "insufficiency", "pathologique": "pathological"},
        "cement_augmented": {"oui": "yes", "non": "no"},
        "kind": {"consultation": "clinical", "téléphone": "phone"},
        "symptoms": {"aucun": "none", "légers": "mild", "modérés": "moderate"},
        "intervention": {"aucune": "none", "locale": "local"},
        "outcome": {"résolue": "resolved", "décès": "death"},
    },
    "patients": {"registry_id": "N° patient", "sex": "Sexe", "birth_date": "Date de naissance"},
    "procedures": {
        "started_at": "Début",
        "ended_at": "Fin",
        "guidance": "Guidage",
        "anesthesia": "Anesthésie",
    },
    "fractures": {
        "site": "Site",
        "side": "Côté",
        "type": "Type",
        "screws": "Vis",
        "cement_augmented": "Cimentoplastie",
    },
    "follow_ups": [{"contact_at": "Suivi", "kind": "Type de suivi"}],
    "complications": [
        {
            "term": "Complication 1",
            "onset_date": "Date complication 1",
            "symptoms": "Symptômes 1",
            "intervention": "Intervention 1",
            "outcome": "Évolution 1",
        },
        {
            "term": "Complication 2",
            "onset_date": "Date complication 2",
            "symptoms": "Symptômes 2",
            "fracture_sites": "Fractures 2",
        },
    ],
}

GOOD = [
    # L1 has two fractures; its haematoma concerns the first (row 2)...
    ["L1", "F", "12/05/1941", "04/03/2020 09:15", "04/03/2020 10:30", "scanner", "générale",
     "sacrum", "gauche", "insuffisance", 2, "oui", "10/03/2020 14:00", "consultation",
     "Hematoma", "06/03/2020", "légers", "aucune", "résolue", "", "", "", "", "bien"],
    ["L1", "F", "12/05/1941", "04/03/2020 09:15", "04/03/2020 10:30", "scanner", "générale",
     "aile iliaque", "droit", "insuffisance", 1, "non", "10/03/2020 14:00", "consultation",
     "", "", "", "", "", "10033371", "07/03/2020", "modérés", "iliac/right", ""],
    ["L2", "H", "01/01/1950", "20/06/2021 08:00", "20/06/2021 09:00", "scopie", "locale",
     "branche pubienne", "gauche", "pathologique", 1, "non", "25/06/2021 10:00", "téléphone",
     "", "", "", "", "", "", "", "", "", ""],
    ["L3", "F", "03/03/1938", "01/02/2022 13:00", "01/02/2022 14:00", "scanner", "générale",
     "sacrum", "droit", "insuffisance", 1, "oui", "", "",
     "", "", "", "", "", "", "", "", "", ""],
]  # fmt: skip


def _workbook(path: Path, rows: list[list], header: list[str] = HEADER) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.title = "Série"
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def _set(rows: list[list], row: int, column: str, value) -> None:
    """Change one cell; ``row`` is the spreadsheet's (header = 1)."""
    rows[row - 2][HEADER.index(column)] = value


def _broken() -> tuple[list[list], list[str], list[tuple[int, str]]]:
    rows = [list(r) for r in GOOD]
    rows.append(list(GOOD[3]))  # row 6: L4, filled in below
    rows[4][0] = "L4"
    rows[4][7] = "aile iliaque"
    expected: list[tuple[int, str]] = []

    def bad(row: int, column: str, value) -> None:
        _set(rows, row, column, value)
        expected.append((row, column))

    bad(2, "Date de naissance", "31/02/1941")  # 1 not a date
    bad(3, "Date de naissance", "12/05/1942")  # 2 the same patient differs (duplicate id)
    bad(4, "Début", "20/06/2099 08:00")  # 3 a date in the future
    bad(4, "Fin", "20/06/2099 09:00")
    bad(2, "Complication 1", "Hématome")  # 4 an unknown term
    bad(3, "Fractures 2", "iliac/left")  # 5 an unknown fracture reference
    bad(5, "Fin", "01/02/2022 12:00")  # 6 the end before the start
    bad(5, "Évolution 1", "décès")  # 7 a death on a grade-1 event
    _set(rows, 5, "Complication 1", "Hematoma")
    _set(rows, 5, "Date complication 1", "02/02/2022")
    _set(rows, 5, "Symptômes 1", "légers")
    _set(rows, 5, "Intervention 1", "aucune")
    _set(rows, 6, "Complication 1", "Hematoma")
    _set(rows, 6, "Date complication 1", "02/02/2022")
    bad(6, "Sexe", "X")  # 8 a wrong code (the service's own refusal)
    bad(6, "Symptômes 1", "graves")  # 9 a fact's code unknown
    bad(6, "Vis", "deux")  # 10 not a whole number
    bad(6, "Cimentoplastie", "peut-être")  # 11 not yes or no
    bad(6, "Suivi", "01/01/2022 10:00")  # 12 a contact before the procedure
    _set(rows, 6, "Type de suivi", "consultation")
    expected.append((1, "Remarque"))  # 13 an unknown column
    header = [*HEADER[:-1], "Remarque"]
    return rows, header, expected


def test_every_error_is_reported_with_its_row_and_nothing_is_saved(department, tmp_path):
    rows, header, expected = _broken()
    path = _workbook(tmp_path / "serie.xlsx", rows, header)
    mapping = {**MAPPING, "ignore": []}

    report = import_file(department=department, path=path, mapping=mapping, commit=True, reason="t")

    found = {(e["row"], e["column"]) for e in report.errors}
    assert {e["sheet"] for e in report.errors} == {"Série"}
    assert set(expected) <= found, set(expected) - found
    assert not report.committed
    for model in (Patient, Procedure, Fracture, FollowUp, ComplicationEvent):
        assert not model.objects.exists()


def test_the_errors_are_in_the_users_language(department, tmp_path):
    rows, header, _expected = _broken()
    path = _workbook(tmp_path / "serie.xlsx", rows, header)

    with translation.override("fr"):
        report = import_file(
            department=department, path=path, mapping=MAPPING, commit=False, reason="t"
        )

    messages = {(e["row"], e["column"]): e["message"] for e in report.errors}
    assert messages[(4, "Début")] == "Le début de l'intervention est dans le futur."
    assert "colonne" in messages[(1, "Remarque")].lower()


def test_once_corrected_it_imports_cleanly_and_a_second_time_changes_nothing(department, tmp_path):
    path = _workbook(tmp_path / "serie.xlsx", GOOD)
    mapping = parse_mapping(json.dumps(MAPPING))

    report = import_file(department=department, path=path, mapping=mapping, commit=True, reason="t")

    assert [e["message"] for e in report.errors] == []
    assert report.summary["patients"]["create"] == 3
    assert report.summary["fractures"]["create"] == 4
    assert report.summary["follow_ups"]["create"] == 2
    assert report.summary["complications"]["create"] == 2
    haematoma = ComplicationEvent.objects.get(term__name="Hematoma")
    assert (haematoma.grade, haematoma.window) == (1, "delayed")
    assert [(f.site, f.side) for f in haematoma.fractures.all()] == [("sacrum", "left")]
    pain = ComplicationEvent.objects.get(term__code="10033371")
    assert pain.grade == 2
    assert [(f.site, f.side) for f in pain.fractures.all()] == [("iliac", "right")]

    again = import_file(department=department, path=path, mapping=mapping, commit=True, reason="t")

    assert again.errors == []
    assert {sheet: counts["unchanged"] for sheet, counts in again.summary.items()} == {
        "patients": 3,
        "procedures": 3,
        "fractures": 4,
        "follow_ups": 2,
        "complications": 2,
    }
