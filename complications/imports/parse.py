"""Reading an import file: the tables of a workbook or a ZIP of CSVs, and the
text of each cell read by its column's kind.

A reader yields a table's rows lazily (openpyxl's read-only mode, the csv
module), so a large file is never held whole in memory. ``convert`` turns one
cell into the value a service takes, or raises ``CellError`` with a message in
the active language.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

from complications.imports import layout

Origin = tuple[str, int, str]  # sheet, spreadsheet row, column as the file names them


@dataclass
class Row:
    """One row of a layout sheet: the raw cells by layout column, and where each came from."""

    sheet: str
    number: int
    values: dict[str, Any]
    origin: dict[str, Origin] = field(default_factory=dict)

    def where(self, column: str) -> Origin:
        return self.origin.get(column, (self.sheet, self.number, column))


class CellError(ValueError):
    pass


class FileError(ValueError):
    """The file itself cannot be read (not a workbook, not a ZIP, ...)."""


# --- readers -------------------------------------------------------------------------


class Tables:
    """The tables of a file by name: ``rows(name)`` yields the header, then the rows."""

    def names(self) -> list[str]:
        raise NotImplementedError

    def rows(self, name: str) -> Iterator[Sequence[Any]]:
        raise NotImplementedError

    def count(self, name: str) -> int:
        return max(sum(1 for _ in self.rows(name)) - 1, 0)

    def close(self) -> None:
        pass


class WorkbookTables(Tables):
    def __init__(self, path: Path) -> None:
        from openpyxl import load_workbook

        # A file object: openpyxl judges a path by its extension, an upload may have none.
        self.handle = open(path, "rb")  # noqa: SIM115 - closed by close()
        try:
            self.book = load_workbook(self.handle, read_only=True, data_only=True)
        except Exception as exc:
            self.handle.close()  # noqa: BLE001 - whatever openpyxl says, it is not a workbook
            raise FileError(_("This file is not an XLSX workbook.")) from exc

    def names(self) -> list[str]:
        return list(self.book.sheetnames)

    def rows(self, name: str) -> Iterator[Sequence[Any]]:
        yield from self.book[name].iter_rows(values_only=True)

    def count(self, name: str) -> int:
        sheet = self.book[name]
        if sheet.max_row is not None:
            return max(int(sheet.max_row) - 1, 0)
        return super().count(name)

    def close(self) -> None:
        self.book.close()
        self.handle.close()


class ZipTables(Tables):
    def __init__(self, path: Path) -> None:
        try:
            self.zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise FileError(_("This file is not a ZIP of CSV files.")) from exc
        self.members = {
            Path(info.filename).stem: info.filename
            for info in self.zip.infolist()
            if info.filename.lower().endswith(".csv") and not info.is_dir()
        }

    def names(self) -> list[str]:
        return list(self.members)

    def rows(self, name: str) -> Iterator[Sequence[Any]]:
        with self.zip.open(self.members[name]) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            first = text.readline()
            delimiter = ";" if first.count(";") > first.count(",") else ","
            yield from csv.reader(io.StringIO(first), delimiter=delimiter)
            yield from csv.reader(text, delimiter=delimiter)

    def close(self) -> None:
        self.zip.close()


def open_tables(path: Path) -> Tables:
    """The reader for a file, by its content (a ZIP may be a workbook or CSVs)."""
    if not zipfile.is_zipfile(path):
        raise FileError(_("This file is neither an XLSX workbook nor a ZIP of CSV files."))
    with zipfile.ZipFile(path) as probe:
        names = probe.namelist()
    if "[Content_Types].xml" in names:
        return WorkbookTables(path)
    return ZipTables(path)


# --- cells ---------------------------------------------------------------------------


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def display(value: Any) -> str:
    """A cell's value as an error report shows it."""
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


TRUE = {"true", "yes", "1"}
FALSE = {"false", "no", "0"}


@dataclass(frozen=True)
class Formats:
    """How dates are written in a file: ISO always; a legacy mapping adds its own."""

    time_zone: str
    dates: tuple[str, ...] = ()
    datetimes: tuple[str, ...] = ()


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _aware(value: datetime, zone: str) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone))
    return value


def _whole_second(value: datetime) -> datetime:
    """A spreadsheet's native time is a float of days: 09:15 may come back as 09:14:59.999."""
    rounded = value + timedelta(microseconds=500_000)
    return rounded.replace(microsecond=0)


def convert(kind: str, value: Any, formats: Formats) -> Any:
    """One non-empty cell read as ``kind``; raises ``CellError``."""
    if kind in (layout.TEXT,):
        return _text(value)
    if kind == layout.CODE:
        return _text(value).lower()
    if kind == layout.DATE:
        return _date(value, formats)
    if kind == layout.DATETIME:
        return _datetime(value, formats)
    if kind == layout.BOOL:
        text = _text(value).lower()
        if isinstance(value, bool):
            return value
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        raise CellError(_("Not a yes/no value (true/false, yes/no, 1/0)."))
    if kind == layout.INT:
        if isinstance(value, bool):
            raise CellError(_("Not a whole number."))
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(_text(value))
        except ValueError:
            raise CellError(_("Not a whole number.")) from None
    if kind == layout.FLOAT:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        try:
            return float(_text(value).replace(",", "."))
        except ValueError:
            raise CellError(_("Not a number.")) from None
    if kind == layout.SITES:
        return _sites(_text(value))
    if kind == layout.CRITERIA:
        return [c.strip() for c in _text(value).split(" | ") if c.strip()]
    raise AssertionError(kind)


def _date(value: Any, formats: Formats) -> date:
    if isinstance(value, datetime):
        if value.time() != time(0, 0):
            raise CellError(_("A date without a time is expected here."))
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
    except ValueError:
        pass
    for fmt in formats.dates:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise CellError(
        _("Not a date (expected YYYY-MM-DD%(legacy)s).")
        % {"legacy": "".join(f", {f}" for f in formats.dates)}
    )


def _datetime(value: Any, formats: Formats) -> datetime:
    if isinstance(value, datetime):
        return _aware(_whole_second(value), formats.time_zone)
    if isinstance(value, date):
        raise CellError(_("A time is needed, not only a date."))
    text = _text(value)
    if "T" in text or (len(text) > 10 and text[4:5] == "-"):
        try:
            return _aware(datetime.fromisoformat(text), formats.time_zone)
        except ValueError:
            pass
    for fmt in formats.datetimes:
        try:
            return _aware(datetime.strptime(text, fmt), formats.time_zone)
        except ValueError:
            continue
    if len(text) == 10:
        raise CellError(_("A time is needed, not only a date."))
    raise CellError(
        _("Not a date and time (expected e.g. 2020-03-04T09:15:00+01:00%(legacy)s).")
        % {"legacy": "".join(f", {f}" for f in formats.datetimes)}
    )


def _sites(text: str) -> tuple[tuple[str, str, int | None], ...]:
    """``sacrum/left;iliac/right``: (site, side, None) each; ``pubic_ramus/left/2`` is
    the second fracture of that site and side of the procedure (in the order of
    the fractures sheet), where a procedure has two."""
    pairs = []
    for part in text.split(";"):
        if not part.strip():
            continue
        pieces = [p.strip() for p in part.strip().lower().split("/")]
        nth: int | None = None
        if len(pieces) == 3 and pieces[2].isdigit() and int(pieces[2]) >= 1:
            nth = int(pieces.pop())
        if len(pieces) != 2 or not all(pieces):
            raise CellError(
                _("Write each fracture as site/side, separated by “;” (e.g. sacrum/left).")
            )
        pairs.append((pieces[0], pieces[1], nth))
    return tuple(pairs)
