"""Reading CTCAE tables: the CSV layout, the NCI .xlsx, the Term model and the record format."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from complications.ctcae import (
    CatalogueError,
    Term,
    read_ctcae_csv,
    read_ctcae_xlsx,
    term_from_record,
    term_to_record,
)

HEADER = [
    "MedDRA Code",
    "MedDRA SOC",
    "CTCAE Term",
    "Grade 1",
    "Grade 2",
    "Grade 3",
    "Grade 4",
    "Grade 5",
    "Definition",
]
PAIN_ROW = [
    "10033425",
    "Musculoskeletal and connective tissue disorders",
    "Pain in extremity",
    "Mild pain",
    "Moderate pain; limiting instrumental ADL",
    "Severe pain; limiting self care ADL",
    "-",
    " - ",
    "A disorder characterized by ...",
]


def csv_text(header: list[str], *rows: list[str]) -> io.StringIO:
    stream = io.StringIO()
    writer = csv.writer(stream)
    writer.writerow(header)
    writer.writerows(rows)
    stream.seek(0)
    return stream


def test_it_reads_exactly_837_terms_from_the_reference_csv(reference_terms: list[Term]) -> None:
    assert len(reference_terms) == 837
    assert len({term.code for term in reference_terms}) == 837


def test_it_turns_every_dash_cell_into_an_absent_grade(reference_csv: Path) -> None:
    with reference_csv.open(encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.reader(stream))
    header, body = rows[0], rows[1:]
    columns = {grade: header.index(f"Grade {grade}") for grade in range(1, 6)}
    raw_dashes = {
        (row[0], grade)
        for row in body
        for grade, index in columns.items()
        if row[index].strip() == "-"
    }
    terms = read_ctcae_csv(reference_csv)
    absent = {
        (term.code, grade) for term in terms for grade, text in term.grades.items() if text is None
    }
    assert len(raw_dashes) == 1000
    assert absent == raw_dashes


def test_it_finds_the_26_other_specify_terms_one_per_soc(reference_terms: list[Term]) -> None:
    others = [term for term in reference_terms if term.is_other_specify]
    assert len(others) == 26
    assert len({term.soc for term in others}) == 26


def test_it_knows_which_grades_a_term_has(reference_by_name: dict[str, Term]) -> None:
    assert reference_by_name["Pain in extremity"].grades_available == (1, 2, 3)
    assert reference_by_name["Bone infection"].grades_available == (2, 3, 4, 5)
    assert reference_by_name["Anemia"].grades_available == (1, 2, 3, 4, 5)


def test_it_splits_a_grade_into_clauses_at_semicolons() -> None:
    term = read_ctcae_csv(csv_text(HEADER, PAIN_ROW))[0]
    assert term.clauses(2) == ["Moderate pain", "limiting instrumental ADL"]
    assert term.clauses(4) == []
    assert term.clauses(5) == []
    assert term.grades[5] is None


def test_it_reads_columns_by_name_whatever_their_order_case_or_spacing() -> None:
    order = [8, 2, 0, 7, 3, 6, 4, 5, 1]
    header = ["  " + HEADER[i].upper().replace(" ", "  ") + " " for i in order]
    row = [PAIN_ROW[i] for i in order]
    moved = read_ctcae_csv(csv_text(header, row))
    assert moved == read_ctcae_csv(csv_text(HEADER, PAIN_ROW))


def test_it_accepts_a_byte_order_mark_and_skips_blank_rows(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_text(csv_text(HEADER, PAIN_ROW, [""] * 9).getvalue(), encoding="utf-8-sig")
    terms = read_ctcae_csv(path)
    assert [term.code for term in terms] == ["10033425"]


def test_it_names_the_missing_column() -> None:
    header = [name for name in HEADER if name != "Grade 3"]
    with pytest.raises(CatalogueError, match="Missing column.*Grade 3"):
        read_ctcae_csv(csv_text(header, PAIN_ROW[:5] + PAIN_ROW[6:]))


def test_it_refuses_an_empty_file() -> None:
    with pytest.raises(CatalogueError, match="empty"):
        read_ctcae_csv(io.StringIO(""))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({0: ""}, "line 2: no MedDRA code"),
        ({0: "1003342"}, "line 2: MedDRA code '1003342' is not 8 digits"),
        ({0: "1003342x"}, "is not 8 digits"),
        ({2: "  "}, "line 2: MedDRA code 10033425 has no CTCAE term name"),
        ({1: ""}, "has no MedDRA SOC"),
        ({3: "-", 4: "-", 5: "", 6: "-", 7: "-"}, "has no grade description"),
    ],
)
def test_it_refuses_a_bad_row_with_its_line_number(change: dict[int, str], message: str) -> None:
    row = [change.get(index, value) for index, value in enumerate(PAIN_ROW)]
    with pytest.raises(CatalogueError, match=message):
        read_ctcae_csv(csv_text(HEADER, row))


def test_it_refuses_a_duplicate_code() -> None:
    with pytest.raises(
        CatalogueError, match="line 3: MedDRA code 10033425 already appears at CSV line 2"
    ):
        read_ctcae_csv(csv_text(HEADER, PAIN_ROW, PAIN_ROW))


def write_xlsx(path: Path, header: list[object], rows: list[list[object]]) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "CTCAE v5.0 Clean Copy"
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    workbook.create_sheet("Notes").append(["not the catalogue"])
    workbook.save(path)


def test_it_reads_back_the_reference_table_from_an_xlsx_workbook(
    reference_csv: Path, tmp_path: Path
) -> None:
    with reference_csv.open(encoding="utf-8-sig", newline="") as stream:
        rows: list[list[object]] = list(csv.reader(stream))
    header = [f" {name.lower()} " for name in rows[0]]  # header whitespace and case vary
    body = [[int(row[0]), *row[1:]] for row in rows[1:]]  # Excel stores codes as numbers
    body[0][0] = float(body[0][0])  # and sometimes as floats
    path = tmp_path / "CTCAE_v5.0_2017-11-27.xlsx"
    write_xlsx(path, header, [*body, [None] * len(header)])
    assert read_ctcae_xlsx(path) == read_ctcae_csv(reference_csv)


def test_it_names_the_missing_column_of_an_xlsx_workbook(tmp_path: Path) -> None:
    path = tmp_path / "short.xlsx"
    write_xlsx(path, HEADER[:3], [PAIN_ROW[:3]])
    with pytest.raises(CatalogueError, match="Grade 1, Grade 2, Grade 3, Grade 4, Grade 5"):
        read_ctcae_xlsx(path)


def test_it_refuses_a_file_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "fake.xlsx"
    path.write_text("MedDRA Code,CTCAE Term\n")
    with pytest.raises(CatalogueError, match="not a readable .xlsx workbook"):
        read_ctcae_xlsx(path)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"code": "123"}, "not 8 digits"),
        ({"name": " "}, "has no name"),
        ({"grades": {1: "Mild pain"}}, "must describe grades 1 to 5"),
        ({"grades": {1: 1, 2: None, 3: None, 4: None, 5: None}}, "must be text or None"),
    ],
)
def test_a_term_refuses_inconsistent_fields(fields: dict[str, object], message: str) -> None:
    values: dict[str, object] = {
        "code": "10033425",
        "name": "Pain in extremity",
        "soc": "Musculoskeletal and connective tissue disorders",
        "grades": {1: "Mild pain", 2: None, 3: None, 4: None, 5: None},
    }
    values.update(fields)
    with pytest.raises(CatalogueError, match=message):
        Term(**values)  # type: ignore[arg-type]


def test_terms_can_be_used_in_sets() -> None:
    term = read_ctcae_csv(csv_text(HEADER, PAIN_ROW))[0]
    assert {term, term} == {term}


def test_it_recognises_other_specify_terms_by_name() -> None:
    row = [
        "10042613",
        "Surgical and medical procedures",
        "Surgical and medical procedures - Other, specify",
        "Asymptomatic",
        "-",
        "-",
        "-",
        "-",
        "-",
    ]
    term = read_ctcae_csv(csv_text(HEADER, row))[0]
    assert term.is_other_specify
    assert term.definition == ""
    assert not read_ctcae_csv(csv_text(HEADER, PAIN_ROW))[0].is_other_specify


def test_a_record_round_trips_to_the_same_term(reference_terms: list[Term]) -> None:
    for term in reference_terms:
        record = term_to_record(term)
        assert record["grades"]["1"] is None or isinstance(record["grades"]["1"], list)
        back = term_from_record(record)
        assert (back.code, back.name, back.soc, back.definition) == (
            term.code,
            term.name,
            term.soc,
            term.definition,
        )
        assert all(back.clauses(grade) == term.clauses(grade) for grade in range(1, 6))


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"code": "10033425", "term": "Pain"}, "lacks 'soc'"),
        (
            {"code": "10033425", "term": "Pain", "soc": "X", "grades": {"1": ["Mild"]}},
            "keys '1' to '5'",
        ),
        (
            {
                "code": "10033425",
                "term": "Pain",
                "soc": "X",
                "grades": {"1": "Mild", "2": None, "3": None, "4": None, "5": None},
            },
            "grade 1 must be null or a non-empty list",
        ),
        (
            {
                "code": "10033425",
                "term": "Pain",
                "soc": "X",
                "grades": {"1": [], "2": None, "3": None, "4": None, "5": None},
            },
            "grade 1 must be null or a non-empty list",
        ),
    ],
)
def test_it_refuses_a_malformed_record(record: dict[str, object], message: str) -> None:
    with pytest.raises(CatalogueError, match=message):
        term_from_record(record)
