"""Both tables in one workbook (sheets "cases" and "complications"), and a sheet
"outcomes": the crude delayed rate beside the cumulative incidence at 30/90/180/365 days
(``complications.analysis.incidence``), for the same selection.

openpyxl's write-only mode streams rows to disk instead of holding the sheets
in memory. Text that a spreadsheet would take for a formula is a string cell
with Excel's quote prefix (``registry.spreadsheets``, the one rule).

Each sheet's header row is frozen and carries an auto-filter. With the
``real_dates`` option, dates and datetimes are typed cells with a number
format, in the department's local time (a spreadsheet has no time zones);
otherwise they are ISO 8601 text with the offset, as in the CSV.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter

from complications.analysis.incidence import cumulative_incidence
from complications.exports.base import Exporter, Tick, register
from complications.exports.codebook import OUTCOME_VARIABLES
from complications.exports.options import export_columns, export_rows
from complications.exports.tables import TABLES, Cell, cell_text
from complications.models import ExportJob
from complications.stats.rates import rates
from registry import spreadsheets

DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
DATE_FORMAT = "yyyy-mm-dd"


@register
class XlsxExporter(Exporter):
    identifier = ExportJob.Format.XLSX
    extension = "xlsx"
    content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    name = "cases-and-complications"
    takes_options = True

    def count(self) -> int:
        return sum(table.count(self.selection) for table in TABLES.values())

    def write(self, path: Path, *, tick: Tick | None = None) -> None:
        workbook = Workbook(write_only=True)
        typed = self.selection.options.real_dates
        for kind in TABLES:
            sheet = workbook.create_sheet(title=str(kind))
            names = export_columns(kind, self.selection)
            sheet.freeze_panes = "A2"
            sheet.append(names)
            count = 0
            for row in export_rows(kind, self.selection):
                sheet.append([_xlsx_value(sheet, row.get(c), typed) for c in names])
                count += 1
                if tick:
                    tick()
            sheet.auto_filter.ref = f"A1:{get_column_letter(max(len(names), 1))}{count + 1}"
        _outcomes_sheet(workbook.create_sheet(title="outcomes"), self.selection)
        workbook.save(path)


def _outcomes_sheet(sheet: Any, selection: Any) -> None:
    """Per severity (any, major): the crude delayed rate and the cumulative incidence of
    delayed complications at 30/90/180/365 days with its 95 % band, per fracture."""
    filters = dict(selection.filters)
    filters.pop("unit", None)
    crude = rates(user=selection.user, unit="fracture", **filters)["windows"]["delayed"]
    sheet.append([variable.name for variable in OUTCOME_VARIABLES])  # the codebook's
    for severity in ("any", "major"):
        events = crude["major"] if severity == "major" else crude["events"]
        rate = events / crude["at_risk"] if crude["at_risk"] else 0.0
        sheet.append(
            [severity, "crude_delayed_rate", None, round(rate, 4), None, None, crude["at_risk"]]
        )
        estimate = cumulative_incidence(user=selection.user, severity=severity, **filters)
        for day, value in estimate["at"].items():
            sheet.append(
                [
                    severity,
                    "cumulative_incidence",
                    int(day),
                    value["cif"],
                    *value["ci95"],
                    value["at_risk"],
                ]
            )


def _xlsx_value(sheet: Any, value: Any, typed: bool) -> Any:
    if typed and isinstance(value, datetime):
        cell = WriteOnlyCell(sheet, value=value.replace(tzinfo=None))  # local wall time
        cell.number_format = DATETIME_FORMAT
        return cell
    if typed and isinstance(value, date):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = DATE_FORMAT
        return cell
    return _xlsx_cell(sheet, cell_text(value))


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
