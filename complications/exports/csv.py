"""The CSV tables, one table per file (``kind``: cases or complications).

Text cells that a spreadsheet would take for a formula (beginning with "=",
"+", "-", "@", a tab or a carriage return) are written behind a "'"
(``registry.spreadsheets``, the one rule); numbers, negative ones included,
stay numbers. Booleans are ``true``/``false``, an empty cell is an empty
string.

The ``excel_eu`` dialect (an export option) is what Excel reads in a locale
whose decimal separator is a comma: ``;`` between cells, decimal commas, and
a UTF-8 byte order mark first (without it Excel reads the file as ANSI).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

from complications.exports.base import Exporter, Tick, register
from complications.exports.options import export_columns, export_rows
from complications.exports.selection import Selection
from complications.exports.tables import TABLES, Cell, Row, cell_text
from complications.models import ExportJob
from registry import spreadsheets


def csv_cell(value: Any) -> Cell:
    value = cell_text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else spreadsheets.csv_text(value)


def csv_cell_eu(value: Any) -> Cell:
    """``csv_cell``, with a decimal comma in numbers that are not whole."""
    if isinstance(value, float):
        return repr(value).replace(".", ",")
    return csv_cell(value)


BOM = "\ufeff"


class Line:
    """The file-like object ``csv.writer`` writes one line into, so each row can be yielded."""

    def write(self, value: str) -> str:
        return value


def header(columns: list[str]) -> str:
    return csv.writer(Line()).writerow(columns)


def csv_chunks(
    columns: list[str],
    rows: Iterable[Row],
    *,
    tick: Tick | None = None,
    flush_at: int = 64 * 1024,
    dialect: str = "standard",
) -> Iterator[str]:
    """The header, then the rows, as strings of about ``flush_at`` characters."""
    european = dialect == "excel_eu"
    writer = csv.writer(Line(), delimiter=";" if european else ",")
    cell = csv_cell_eu if european else csv_cell
    buffer = [(BOM if european else "") + writer.writerow(columns)]
    size = len(buffer[0])
    for row in rows:
        line = writer.writerow([cell(row.get(c)) for c in columns])
        buffer.append(line)
        size += len(line)
        if tick:
            tick()
        if size >= flush_at:
            yield "".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer)


@register
class CsvExporter(Exporter):
    identifier = ExportJob.Format.CSV
    extension = "csv"
    content_type = "text/csv; charset=utf-8"
    kinds = tuple(TABLES)
    default_kind = ExportJob.Kind.COMPLICATIONS
    takes_options = True

    def count(self) -> int:
        return TABLES[self.kind].count(self.selection)

    def chunks(self, *, tick: Tick | None = None) -> Iterator[str]:
        return csv_chunks(
            export_columns(self.kind, self.selection),
            export_rows(self.kind, self.selection),
            tick=tick,
            dialect=self.selection.options.dialect,
        )


def table_csv(kind: str, selection: Selection, *, tick: Tick | None = None) -> Iterator[str]:
    """The table formatted in Python, whatever the database."""
    return CsvExporter(selection, kind=kind).chunks(tick=tick)
