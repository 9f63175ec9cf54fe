"""The documents generated from the codebook: the page's rows, a REDCap data
dictionary (CSV) and a PDF. Nothing here describes a variable: every word
comes from ``codebook``.

REDCap
------
One row per variable with REDCap's 18 columns, the cases as form ``cases``
and the complications as form ``complications``. REDCap wants each field name
once in a project and the record id first: ``fracture_id`` comes first, and a
column of both tables (``procedure_id``, ``patient_id``, ``registry_id``,
``department``) is listed once, in the cases form, its note saying so. Coded
columns are dropdowns (``code, label | ...``), booleans ``yesno`` (the files
write ``true``/``false``, REDCap 1/0), numbers, dates and datetimes text
fields with REDCap's validations; computed columns are ``@READONLY`` with their
derivation as the field note.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from complications.exports.codebook import (
    BOOLEAN,
    DATE,
    DATETIME,
    DECIMAL,
    INTEGER,
    TABLE_LABELS,
    TYPE_LABELS,
    Entry,
    entries,
    in_language,
)
from registry import spreadsheets

LANGUAGES = ("en", "fr")

REDCAP_COLUMNS = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)
_VALIDATION = {
    INTEGER: "integer",
    DECIMAL: "number",
    DATE: "date_ymd",
    DATETIME: "datetime_seconds_ymd",
}


@dataclass(frozen=True)
class Described:
    """One column, in the current language, with its labels in every language."""

    table: str
    table_label: str
    name: str
    labels: dict[str, str]
    type: str
    type_label: str
    unit: str
    codes: list[tuple[str, dict[str, str]]]
    derivation: str
    note: str
    options: tuple[str, ...]
    identifier: bool


def described() -> list[Described]:
    """Every column of every export, in table and column order."""
    return [_describe(entry) for entry in entries()]


def _describe(entry: Entry) -> Described:
    variable = entry.variable

    def each(text: Any) -> dict[str, str]:
        return {language: in_language(text, language) for language in LANGUAGES}

    return Described(
        table=entry.table,
        table_label=str(TABLE_LABELS[entry.table]),
        name=variable.name,
        labels=each(variable.label),
        type=variable.type,
        type_label=str(TYPE_LABELS[variable.type]),
        unit=str(variable.unit),
        codes=[(str(code), each(label)) for code, label in variable.codes()],
        derivation=str(variable.derivation),
        note=str(variable.note),
        options=entry.options,
        identifier=variable.identifier,
    )


def _option_note(options: tuple[str, ...]) -> str:
    if not options:
        return ""
    return _("Only with the export option: %(options)s.") % {"options": ", ".join(options)}


def redcap_rows(language: str) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    # A REDCap dictionary describes records: the cases and complications tables, not the
    # aggregate "outcomes" sheet of the XLSX export.
    items = [item for item in described() if item.table in ("cases", "complications")]
    in_complications = {item.name for item in items if item.table == "complications"}
    for item in items:
        if item.name in seen:
            continue
        seen.add(item.name)
        shared = item.table == "cases" and item.name in in_complications
        notes = [
            item.unit and _("Unit: %(unit)s.") % {"unit": item.unit},
            item.derivation,
            item.note,
            _option_note(item.options),
            shared and _("Also a column of the complications table."),
        ]
        if item.codes:
            field_type = "dropdown"
        elif item.type == BOOLEAN:
            field_type = "yesno"
        else:
            field_type = "text"
        rows.append(
            {
                "Variable / Field Name": item.name,
                "Form Name": item.table,
                "Field Type": field_type,
                "Field Label": item.labels.get(language, item.labels["en"]),
                "Choices, Calculations, OR Slider Labels": " | ".join(
                    f"{code}, {labels.get(language, labels['en'])}" for code, labels in item.codes
                ),
                "Field Note": " ".join(n for n in notes if n),
                "Text Validation Type OR Show Slider Number": ""
                if item.codes
                else _VALIDATION.get(item.type, ""),
                "Identifier?": "y" if item.identifier else "",
                "Field Annotation": "@READONLY" if item.derivation else "",
            }
        )
    return rows


def redcap_csv(language: str) -> str:
    """The REDCap data dictionary. Text cells follow ``registry.spreadsheets``' rule,
    except the field annotation: REDCap's action tags begin with "@" and are the
    codebook's own constants, never typed text."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=REDCAP_COLUMNS, restval="")
    writer.writeheader()
    for row in redcap_rows(language):
        writer.writerow(
            {k: v if k == "Field Annotation" else spreadsheets.csv_text(v) for k, v in row.items()}
        )
    return out.getvalue()


_FONTS = Path("/usr/share/fonts/truetype/dejavu")


def codebook_pdf() -> bytes:
    """The codebook as a PDF (fpdf2), labels in English and French."""
    from fpdf import FPDF

    logging.getLogger("fontTools").setLevel(logging.WARNING)  # it logs every subset table
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    regular, bold = _FONTS / "DejaVuSans.ttf", _FONTS / "DejaVuSans-Bold.ttf"
    if regular.exists() and bold.exists():
        pdf.add_font("body", "", str(regular))
        pdf.add_font("body", "B", str(bold))
        family = "body"

        def clean(text: str) -> str:
            return text
    else:  # a core font: Latin-1 only
        family = "helvetica"

        def clean(text: str) -> str:
            return text.replace("≥", ">=").encode("latin-1", "replace").decode("latin-1")

    pdf.set_title(_("PIGSF registry: export codebook"))
    pdf.add_page()
    pdf.set_font(family, "B", 16)
    pdf.multi_cell(0, 8, clean(_("PIGSF registry: export codebook")), new_x="LMARGIN", new_y="NEXT")
    table = ""
    for item in described():
        if item.table != table:
            table = item.table
            pdf.ln(4)
            pdf.set_font(family, "B", 13)
            pdf.multi_cell(0, 7, clean(item.table_label), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
        pdf.set_font(family, "B", 10)
        pdf.multi_cell(0, 5, clean(item.name), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, "", 9)
        lines = [
            f"EN: {item.labels['en']}",
            f"FR: {item.labels['fr']}",
            _("Type: %(type)s") % {"type": item.type_label},
        ]
        if item.unit:
            lines.append(_("Unit: %(unit)s.") % {"unit": item.unit})
        if item.codes:
            lines.append(
                _("Codes: %(codes)s")
                % {
                    "codes": "; ".join(
                        f"{code} = {labels['en']} / {labels['fr']}" for code, labels in item.codes
                    )
                }
            )
        if item.derivation:
            lines.append(_("Derivation: %(text)s") % {"text": item.derivation})
        for text in (item.note, _option_note(item.options)):
            if text:
                lines.append(text)
        for line in lines:
            pdf.multi_cell(0, 4.5, clean(line), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
