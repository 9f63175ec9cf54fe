"""Both tables in one workbook (sheets "cases" and "complications").

openpyxl's write-only mode streams rows to disk instead of holding the sheets
in memory. Text that a spreadsheet would take for a formula is a string cell
with Excel's quote prefix (``registry.spreadsheets``, the one rule).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from complications.exports.base import Exporter, Tick, register
from complications.exports.tables import TABLES, Cell, cell_text
from complications.models import ExportJob
from registry import spreadsheets


@register
class XlsxExporter(Exporter):
    identifier = ExportJob.Format.XLSX
    extension = "xlsx"
    content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    name = "cases-and-complications"

    def count(self) -> int:
        return sum(table.count(self.selection) for table in TABLES.values())

    def write(self, path: Path, *, tick: Tick | None = None) -> None:
        workbook = Workbook(write_only=True)
        for kind, table in TABLES.items():
            sheet = workbook.create_sheet(title=str(kind))
            names = table.columns(self.selection)
            sheet.append(names)
            for row in table.rows(self.selection):
                sheet.append([_xlsx_cell(sheet, cell_text(row.get(c))) for c in names])
                if tick:
                    tick()
        workbook.save(path)


def _xlsx_cell(sheet: Any, value: Cell) -> Any:
    """Text stays text: characters XML cannot hold are dropped, and text that looks
    like a formula (an operator's or a rationale's free text) is a string cell with
    the quote prefix, never a formula (openpyxl would store "=..." as one)."""
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if not spreadsheets.formula_like(value):
        return value
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    cell.quotePrefix = True
    return cell
