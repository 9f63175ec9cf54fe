"""CTCAE v5.0 terms: the data model, the readers for the NCI's layouts, and the curated catalogue.

Three sources produce the same `Term` objects:

- the NCI's official spreadsheet ``CTCAE_v5.0_2017-11-27.xlsx`` (`read_ctcae_xlsx`), which a site
  imports to get all 837 terms;
- the same table exported as CSV (`read_ctcae_csv`), which CI uses;
- the project's own curated catalogue (`load_curated_catalogue`), shipped in
  ``data/curated_terms.json`` in the project's format (clauses stored as lists), so that the
  registry works out of the box with the terms a screw-fixation service needs, without copying
  the NCI table wholesale.

The readers find columns by header name, never by position: the NCI has reordered and renamed
columns between releases, and a silent shift would attach grade texts to the wrong grade.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import IO, Any

GRADES: tuple[int, ...] = (1, 2, 3, 4, 5)

# Cell values that CTCAE uses for "this grade does not exist for this term". The NCI writes a bare
# hyphen; en and em dashes are accepted because spreadsheet software silently converts hyphens.
_ABSENT_MARKERS = frozenset({"", "-", "\u2013", "\u2014"})
_MEDDRA_CODE = re.compile(r"\d{8}")

_CODE_COLUMN = "MedDRA Code"
_SOC_COLUMN = "MedDRA SOC"
_TERM_COLUMN = "CTCAE Term"
_GRADE_COLUMNS = {grade: f"Grade {grade}" for grade in GRADES}
_DEFINITION_COLUMN = "Definition"
REQUIRED_COLUMNS: tuple[str, ...] = (
    _CODE_COLUMN,
    _SOC_COLUMN,
    _TERM_COLUMN,
    *_GRADE_COLUMNS.values(),
)

CURATED_RESOURCE = "data/curated_terms.json"
CURATED_FORMAT = 1


class CatalogueError(ValueError):
    """A CTCAE table (file or record) cannot be read into terms; the message says where and why."""


@dataclass(frozen=True)
class Term:
    """One CTCAE v5.0 term with its five grade descriptions.

    ``grades`` maps every grade 1..5 to its text as written by the NCI, or to None when CTCAE
    marks the grade "-" (it does not exist for the term: Pain in extremity stops at 3, Bone
    infection starts at 2). The mapping is excluded from the hash so that terms can sit in sets
    and cache keys by identity of code, name, SOC and definition.
    """

    code: str
    name: str
    soc: str
    grades: dict[int, str | None] = field(hash=False)
    definition: str = ""

    def __post_init__(self) -> None:
        if not _MEDDRA_CODE.fullmatch(self.code):
            raise CatalogueError(f"MedDRA code {self.code!r} of {self.name!r} is not 8 digits.")
        if not self.name.strip():
            raise CatalogueError(f"Term {self.code} has no name.")
        if set(self.grades) != set(GRADES):
            raise CatalogueError(
                f"{self.name} must describe grades 1 to 5 (None for an absent grade), "
                f"not {sorted(self.grades)}."
            )
        for grade, text in self.grades.items():
            if text is not None and not isinstance(text, str):
                raise CatalogueError(f"Grade {grade} of {self.name} must be text or None.")

    @property
    def is_other_specify(self) -> bool:
        """True for the 26 "<SOC> - Other, specify" terms, which need a specifying text."""
        return self.name.rstrip().endswith("Other, specify")

    @property
    def grades_available(self) -> tuple[int, ...]:
        """The grades this term has, ascending."""
        return tuple(grade for grade in GRADES if self.grades.get(grade) is not None)

    def clauses(self, grade: int) -> list[str]:
        """The grade's clauses: its text split at semicolons (CTCAE's "or"), each stripped.

        Empty pieces are kept (as "") rather than dropped, so that a malformed description shows
        up in the coverage report instead of disappearing silently.
        """
        text = self.grades.get(grade)
        if text is None:
            return []
        return [clause.strip() for clause in text.split(";")]


def read_ctcae_csv(path_or_textfile: str | PathLike[str] | IO[str]) -> list[Term]:
    """Read the CTCAE CSV layout (as in ``shared/reference/ctcae_v5.0.csv``) into terms.

    Accepts a path or an open text file. A UTF-8 byte-order mark is tolerated because Excel adds
    one when it saves CSV.
    """
    if hasattr(path_or_textfile, "read"):
        return _read_csv_stream(path_or_textfile)  # type: ignore[arg-type]
    with open(path_or_textfile, encoding="utf-8-sig", newline="") as stream:
        return _read_csv_stream(stream)


def _read_csv_stream(stream: IO[str]) -> list[Term]:
    reader = csv.reader(stream)
    try:
        header = next(reader)
    except StopIteration:
        raise CatalogueError("The CSV file is empty: no header row.") from None
    header = [cell.lstrip("\ufeff") for cell in header]
    return _terms_from_table(header, enumerate(reader, start=2), source="CSV line")


def read_ctcae_xlsx(path: str | PathLike[str]) -> list[Term]:
    """Read the NCI's ``CTCAE_v5.0_2017-11-27.xlsx`` (first sheet) into terms.

    openpyxl is imported here, not at module level, so that the grading core stays importable
    with the standard library alone.
    """
    try:
        import openpyxl
    except ImportError as exc:  # pragma: no cover - openpyxl is a project dependency
        raise ImportError(
            "Reading an .xlsx catalogue needs openpyxl (pip install openpyxl)."
        ) from exc
    from zipfile import BadZipFile

    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(Path(path), read_only=True, data_only=True)
    except (InvalidFileException, BadZipFile, KeyError, OSError) as exc:
        raise CatalogueError(f"{path} is not a readable .xlsx workbook: {exc}") from exc
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        try:
            header = list(next(rows))
        except StopIteration:
            raise CatalogueError(
                "The first sheet of the workbook is empty: no header row."
            ) from None
        return _terms_from_table(header, enumerate(rows, start=2), source="Sheet row")
    finally:
        workbook.close()


def _header_key(value: object) -> str:
    """Header cells compare case-insensitively with all whitespace (and NBSP) collapsed."""
    return " ".join(str(value if value is not None else "").split()).casefold()


def _column_positions(header: Sequence[object]) -> dict[str, int]:
    positions: dict[str, int] = {}
    for index, cell in enumerate(header):
        key = _header_key(cell)
        if key and key not in positions:
            positions[key] = index
    missing = [name for name in REQUIRED_COLUMNS if _header_key(name) not in positions]
    if missing:
        found = ", ".join(str(cell) for cell in header if _header_key(cell)) or "nothing"
        raise CatalogueError(
            f"Missing column(s): {', '.join(missing)}. The header row has: {found}."
        )
    return positions


def _cell_text(value: object) -> str:
    """Spreadsheet cells arrive as str, int, float or None; grades and names are text."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).replace("\u00a0", " ").strip()


def _cell_code(value: object) -> str:
    """MedDRA codes arrive as text in CSV and as int or float in Excel."""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    return _cell_text(value)


def _terms_from_table(
    header: Sequence[object], rows: Iterable[tuple[int, Sequence[object]]], *, source: str
) -> list[Term]:
    positions = _column_positions(header)

    def cell(row: Sequence[object], column: str) -> object:
        index = positions.get(_header_key(column))
        if index is None or index >= len(row):
            return None
        return row[index]

    terms: list[Term] = []
    seen: dict[str, int] = {}
    for number, row in rows:
        if all(_cell_text(value) == "" for value in row):
            continue  # spreadsheets often carry trailing blank rows
        code = _cell_code(cell(row, _CODE_COLUMN))
        name = _cell_text(cell(row, _TERM_COLUMN))
        soc = _cell_text(cell(row, _SOC_COLUMN))
        where = f"{source} {number}"
        if not code:
            raise CatalogueError(f"{where}: no MedDRA code (term {name or 'unnamed'}).")
        if not _MEDDRA_CODE.fullmatch(code):
            raise CatalogueError(f"{where}: MedDRA code {code!r} is not 8 digits.")
        if not name:
            raise CatalogueError(f"{where}: MedDRA code {code} has no CTCAE term name.")
        if not soc:
            raise CatalogueError(f"{where}: {name} ({code}) has no MedDRA SOC.")
        if code in seen:
            raise CatalogueError(
                f"{where}: MedDRA code {code} already appears at {source} {seen[code]}."
            )
        seen[code] = number
        grades: dict[int, str | None] = {}
        for grade, column in _GRADE_COLUMNS.items():
            text = _cell_text(cell(row, column))
            grades[grade] = None if text in _ABSENT_MARKERS else text
        if not any(grades.values()):
            raise CatalogueError(f"{where}: {name} ({code}) has no grade description at all.")
        definition = _cell_text(cell(row, _DEFINITION_COLUMN))
        terms.append(
            Term(
                code=code,
                name=name,
                soc=soc,
                grades=grades,
                definition="" if definition in _ABSENT_MARKERS else definition,
            )
        )
    return terms


def term_to_record(term: Term) -> dict[str, Any]:
    """The curated-catalogue record of a term: grades stored as lists of clauses (or null)."""
    return {
        "code": term.code,
        "term": term.name,
        "soc": term.soc,
        "grades": {
            str(grade): (term.clauses(grade) if term.grades[grade] is not None else None)
            for grade in GRADES
        },
        "definition": term.definition,
    }


def term_from_record(record: Mapping[str, Any]) -> Term:
    """Build a term from a curated-catalogue record; the inverse of `term_to_record`."""
    try:
        code, name, soc, raw_grades = (
            record["code"],
            record["term"],
            record["soc"],
            record["grades"],
        )
    except (KeyError, TypeError) as exc:
        raise CatalogueError(f"Catalogue record {record!r} lacks {exc}.") from exc
    if not isinstance(raw_grades, Mapping) or set(raw_grades) != {str(g) for g in GRADES}:
        raise CatalogueError(f"Catalogue record {code}: grades must have keys '1' to '5'.")
    grades: dict[int, str | None] = {}
    for grade in GRADES:
        clauses = raw_grades[str(grade)]
        if clauses is None:
            grades[grade] = None
        elif isinstance(clauses, list) and clauses and all(isinstance(c, str) for c in clauses):
            grades[grade] = "; ".join(clauses)
        else:
            raise CatalogueError(
                f"Catalogue record {code}: grade {grade} must be null or a non-empty list of text."
            )
    return Term(
        code=str(code),
        name=str(name),
        soc=str(soc),
        grades=grades,
        definition=str(record.get("definition") or ""),
    )


@lru_cache(maxsize=1)
def _curated_terms() -> tuple[Term, ...]:
    text = resources.files(__package__).joinpath(CURATED_RESOURCE).read_text(encoding="utf-8")
    document = json.loads(text)
    if document.get("format") != CURATED_FORMAT:
        raise CatalogueError(
            f"{CURATED_RESOURCE} has format {document.get('format')!r}; expected {CURATED_FORMAT}."
        )
    return tuple(term_from_record(record) for record in document["terms"])


def load_curated_catalogue() -> dict[str, Term]:
    """The project's curated terms keyed by MedDRA code (a fresh dict; the terms are immutable)."""
    return {term.code: term for term in _curated_terms()}


def iter_clauses(term: Term) -> Iterator[tuple[int, str]]:
    """Every (grade, clause) of a term, grades ascending, clauses in the order written."""
    for grade in term.grades_available:
        for clause in term.clauses(grade):
            yield grade, clause
