"""The downloadable template: a workbook with the layout's sheets and headers,
and a notes sheet saying what each column holds."""

from __future__ import annotations

import io

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font

from complications.imports import layout

KIND_NOTES = {
    layout.TEXT: "text",
    layout.CODE: "code",
    layout.DATE: "date YYYY-MM-DD",
    layout.DATETIME: (
        "date and time, ISO 8601 (e.g. 2020-03-04T09:15:00+01:00; "
        "without an offset: the department's local time)"
    ),
    layout.BOOL: "true/false, yes/no, 1/0; empty = not recorded",
    layout.INT: "whole number",
    layout.FLOAT: "number",
    layout.SITES: (
        "site/side pairs separated by ';' (e.g. sacrum/left;iliac/right; "
        "pubic_ramus/left/2 = the second of two); empty = every fracture of the procedure"
    ),
    layout.CRITERIA: "CTCAE clauses separated by ' | '",
}


def template_workbook() -> bytes:
    book = Workbook()
    notes = book.active
    assert notes is not None
    notes.title = "notes"
    notes.append([_("sheet"), _("column"), _("required"), _("key"), _("what it holds")])
    for cell in notes[1]:
        cell.font = Font(bold=True)
    for sheet in layout.SHEETS:
        data = book.create_sheet(sheet.name)
        data.append(list(sheet.names))
        for cell in data[1]:
            cell.font = Font(bold=True)
        data.freeze_panes = "A2"
        for column in sheet.columns:
            notes.append(
                [
                    sheet.name,
                    column.name,
                    _("yes") if column.required else "",
                    _("yes") if column.name in sheet.key else "",
                    KIND_NOTES[column.kind],
                ]
            )
    notes.append([])
    notes.append(
        [
            _(
                "Grades and windows are never imported: they are derived from the facts, "
                "as for a case entered by hand. Rows are numbered as in the spreadsheet "
                "(header = 1). Codes are those of the API (e.g. pathological, sacrum, iv)."
            )
        ]
    )
    book.move_sheet("notes", offset=len(layout.SHEETS))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
