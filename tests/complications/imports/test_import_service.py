"""The import service on files in the import layout: the command, a ZIP of
CSVs, updates with the import as the audit reason, header problems, and the
reading of each kind of cell (a table over the boundaries)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from django.core.management import call_command
from openpyxl import load_workbook

from complications.imports import import_file, layout
from complications.imports.parse import CellError, Formats, convert
from complications.models import ComplicationEvent
from registry.models import FollowUp, Fracture, Patient, Procedure
from tests.complications.imports.layout_files import cohort, csv_zip, workbook

PARIS = Formats(time_zone="Europe/Paris")
LEGACY = Formats(time_zone="Europe/Paris", dates=("%d/%m/%Y",), datetimes=("%d/%m/%Y %H:%M",))
PLUS_ONE = timezone(timedelta(hours=1))


@pytest.mark.parametrize(
    ("kind", "text", "formats", "expected"),
    [
        (layout.DATE, "2020-03-04", PARIS, date(2020, 3, 4)),
        (layout.DATE, datetime(2020, 3, 4), PARIS, date(2020, 3, 4)),
        (layout.DATE, "04/03/2020", LEGACY, date(2020, 3, 4)),
        (layout.DATETIME, "2020-03-04T09:15:00+01:00", PARIS, datetime(2020, 3, 4, 9, 15, tzinfo=PLUS_ONE)),
        (layout.DATETIME, "2020-03-04T08:15:00Z", PARIS, datetime(2020, 3, 4, 8, 15, tzinfo=UTC)),
        (layout.DATETIME, "2020-03-04 09:15", PARIS, datetime(2020, 3, 4, 8, 15, tzinfo=UTC)),
        (layout.DATETIME, datetime(2020, 7, 4, 9, 14, 59, 999000), PARIS, datetime(2020, 7, 4, 7, 15, tzinfo=UTC)),
        (layout.DATETIME, "04/03/2020 09:15", LEGACY, datetime(2020, 3, 4, 8, 15, tzinfo=UTC)),
        (layout.BOOL, "Yes", PARIS, True),
        (layout.BOOL, "FALSE", PARIS, False),
        (layout.BOOL, 1, PARIS, True),
        (layout.BOOL, "0", PARIS, False),
        (layout.INT, "2", PARIS, 2),
        (layout.INT, 2.0, PARIS, 2),
        (layout.FLOAT, "37,5", PARIS, 37.5),
        (layout.CODE, " Sacrum ", PARIS, "sacrum"),
        (layout.TEXT, 123.0, PARIS, "123"),
        (layout.SITES, "sacrum/left;iliac/right", PARIS, (("sacrum", "left", None), ("iliac", "right", None))),
        (layout.SITES, "pubic_ramus/left/2", PARIS, (("pubic_ramus", "left", 2),)),
        (layout.CRITERIA, "a | b", PARIS, ["a", "b"]),
    ],
)  # fmt: skip
def test_a_cell_is_read_by_its_columns_kind(kind, text, formats, expected):
    assert convert(kind, text, formats) == expected


@pytest.mark.parametrize(
    ("kind", "text", "formats"),
    [
        (layout.DATE, "2020-02-30", PARIS),
        (layout.DATE, "04/03/2020", PARIS),
        (layout.DATE, datetime(2020, 3, 4, 9, 0), PARIS),
        (layout.DATETIME, "2020-03-04", PARIS),
        (layout.DATETIME, date(2020, 3, 4), PARIS),
        (layout.DATETIME, "04/03/2020 25:00", LEGACY),
        (layout.BOOL, "maybe", PARIS),
        (layout.BOOL, "2", PARIS),
        (layout.INT, "2.5", PARIS),
        (layout.INT, True, PARIS),
        (layout.FLOAT, "many", PARIS),
        (layout.SITES, "sacrum", PARIS),
        (layout.SITES, "sacrum/left/0", PARIS),
    ],
)
def test_a_cell_that_is_not_of_its_kind_is_refused(kind, text, formats):
    with pytest.raises(CellError):
        convert(kind, text, formats)


@pytest.mark.django_db
def test_the_command_imports_a_zip_of_csvs_and_reports(department, tmp_path, capsys):
    path = csv_zip(tmp_path / "series.zip", cohort())

    call_command("registry_import", str(path), "--department", "A")
    dry = capsys.readouterr().out
    assert "patients       create 1" in dry
    assert "Dry run" in dry
    assert not Patient.objects.exists()

    call_command("registry_import", str(path), "--department", "A", "--commit")

    assert "Imported." in capsys.readouterr().out
    assert (Patient.objects.count(), Procedure.objects.count(), Fracture.objects.count()) == (
        1,
        1,
        1,
    )
    assert FollowUp.objects.get().fractures.count() == 1
    assert ComplicationEvent.objects.get().grade == 1


@pytest.mark.django_db
def test_the_command_exits_1_listing_the_errors(department, tmp_path, capsys):
    sheets = cohort()
    sheets["patients"][0]["birth_date"] = "2990-01-01"
    path = workbook(tmp_path / "series.xlsx", sheets)

    with pytest.raises(SystemExit) as exit_:
        call_command("registry_import", str(path), "--department", "A", "--commit")

    assert exit_.value.code == 1
    out = capsys.readouterr().out
    assert "patients row 2 birth_date '2990-01-01': The birth date is in the future." in out
    assert not Patient.objects.exists()


@pytest.mark.django_db
def test_a_changed_row_is_updated_with_the_import_as_the_reason(department, tmp_path):
    sheets = cohort()
    first = workbook(tmp_path / "first.xlsx", sheets)
    import_file(department=department, path=first, commit=True, reason="Import (first.xlsx)")
    sheets["procedures"][0]["operator"] = "Dr B"
    sheets["complications"][0]["symptoms"] = "moderate"
    second = workbook(tmp_path / "second.xlsx", sheets)

    report = import_file(
        department=department, path=second, commit=True, reason="Import (second.xlsx)"
    )

    assert report.summary["procedures"] == {"create": 0, "update": 1, "unchanged": 0}
    assert report.summary["complications"] == {"create": 0, "update": 1, "unchanged": 0}
    assert report.summary["patients"] == {"create": 0, "update": 0, "unchanged": 1}
    procedure = Procedure.objects.get()
    assert procedure.operator == "Dr B"
    assert procedure.history.first().history_change_reason == "Import (second.xlsx)"
    event = ComplicationEvent.objects.get()
    assert event.facts["symptoms"] == "moderate"
    assert event.history.first().history_change_reason == "Import (second.xlsx)"


@pytest.mark.django_db
def test_header_problems_are_reported_at_row_1_and_nothing_is_written(department, tmp_path):
    path = workbook(tmp_path / "series.xlsx", cohort())
    book = load_workbook(path)
    book["patients"].cell(1, 6, "hospital")  # an unknown column
    book["fractures"].delete_cols(5)  # "type", a required column
    book.create_sheet("extras")
    book.save(path)

    report = import_file(department=department, path=path, commit=True, reason="t")

    assert {(e["sheet"], e["row"], e["column"]) for e in report.errors} == {
        ("extras", 1, ""),
        ("patients", 1, "hospital"),
        ("fractures", 1, "type"),
        # the fractures sheet could not be read: the complication's fracture is unknown
        ("complications", 2, "fracture_sites"),
    }
    assert not Patient.objects.exists()


@pytest.mark.django_db
def test_a_duplicate_key_and_an_unknown_fracture_are_errors_of_their_rows(department, tmp_path):
    sheets = cohort()
    sheets["patients"].append(dict(sheets["patients"][0]))
    sheets["follow_ups"][0]["fracture_sites"] = "iliac/right"
    path = workbook(tmp_path / "series.xlsx", sheets)

    report = import_file(department=department, path=path, commit=False, reason="t")

    assert {(e["sheet"], e["row"], e["column"]) for e in report.errors} == {
        ("patients", 3, "registry_id"),
        ("follow_ups", 2, "fracture_sites"),
    }


@pytest.mark.django_db
def test_a_file_that_is_no_workbook_is_one_error(department, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")

    report = import_file(department=department, path=path, commit=True, reason="t")

    assert len(report.errors) == 1
