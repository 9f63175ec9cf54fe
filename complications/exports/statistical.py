"""Stata (.dta) and SPSS (.sav) files, one table per file, written by pyreadstat.

Every column carries its codebook label as the variable label. A coded text
column (sex, site, window, ...) is stored as whole numbers 1..n in the order of
the codebook's codes, with the labels as value labels; a coded number (a grade)
keeps its value, labelled; a boolean is 0/1 labelled no/yes. Dates and
datetimes are typed (the department's local time), lists and unflattened
facts are text. Text cells follow ``registry.spreadsheets``' rule like every
other export (a file read back into a spreadsheet must not run a formula).

The table is built in memory as a data frame (pyreadstat writes a whole frame):
a background job's file, one table at a time.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import override

from complications.exports.base import Exporter, Tick, register
from complications.exports.codebook import (
    BOOLEAN,
    DATE,
    DATETIME,
    FACT_VARIABLES,
    VARIABLES,
    Variable,
    label_variable,
)
from complications.exports.options import export_columns, export_rows
from complications.exports.tables import TABLES, cell_text
from complications.models import ExportJob
from registry import spreadsheets

LABEL_MAX = 80  # Stata's limit for a variable label


def _variables(kind: str) -> dict[str, Variable]:
    found: dict[str, Variable] = {}
    for variable in (*VARIABLES[kind], *FACT_VARIABLES):
        found[variable.name] = variable
        if variable.coded:
            found[variable.name + "_label"] = label_variable(variable)
    return found


def _text(value: Any) -> Any:
    value = cell_text(value)
    return spreadsheets.csv_text(value) if isinstance(value, str) else value


class StatisticalExporter(Exporter):
    kinds = tuple(TABLES)
    default_kind = ExportJob.Kind.COMPLICATIONS
    writer: ClassVar[str]
    takes_options = True

    def count(self) -> int:
        return TABLES[self.kind].count(self.selection)

    def write(self, path: Path, *, tick: Tick | None = None) -> None:
        import pandas as pd  # type: ignore[import-untyped]
        import pyreadstat

        options = self.selection.options
        columns = export_columns(self.kind, self.selection)
        variables = _variables(self.kind)
        with override(options.language or settings.LANGUAGE_CODE):
            value_labels, encoders = self._labels(columns, variables)
            column_labels = [str(variables[c].label)[:LABEL_MAX] for c in columns]
        data: dict[str, list[Any]] = {c: [] for c in columns}
        for row in export_rows(self.kind, self.selection):
            for column in columns:
                data[column].append(self._cell(row.get(column), encoders.get(column)))
            if tick:
                tick()
        frame = pd.DataFrame(data, columns=columns)
        for column in columns:
            variable = variables[column]
            if variable.type in (DATE, DATETIME) and options.dates != "year":
                frame[column] = pd.to_datetime(frame[column])
            elif column in encoders or variable.type == BOOLEAN:
                frame[column] = pd.array(frame[column], dtype="Int64").astype("float64")
        getattr(pyreadstat, self.writer)(
            frame,
            str(path),
            column_labels=column_labels,
            variable_value_labels=value_labels,
        )

    def _labels(
        self, columns: list[str], variables: dict[str, Variable]
    ) -> tuple[dict[str, dict[int | float, str]], dict[str, Any]]:
        """The value labels of each coded column, and how to encode its values."""
        value_labels: dict[str, dict[int | float, str]] = {}
        encoders: dict[str, Any] = {}
        for column in columns:
            variable = variables[column]
            if variable.type == BOOLEAN:
                value_labels[column] = {0: _("no"), 1: _("yes")}
                encoders[column] = {False: 0, True: 1}
            elif variable.coded:
                codes = variable.codes()
                if all(isinstance(code, int) for code, _label in codes):
                    value_labels[column] = {int(code): str(label) for code, label in codes}
                    encoders[column] = {code: code for code, _label in codes}
                else:
                    value_labels[column] = {
                        i: str(label) for i, (_code, label) in enumerate(codes, 1)
                    }
                    encoders[column] = {code: i for i, (code, _label) in enumerate(codes, 1)}
        return value_labels, encoders

    @staticmethod
    def _cell(value: Any, encoder: dict[Any, int] | None) -> Any:
        if encoder is not None:
            return encoder.get(value) if value not in (None, "") else None
        if isinstance(value, datetime):
            return value.replace(tzinfo=None)  # local wall time
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day)
        return _text(value)


@register
class StataExporter(StatisticalExporter):
    identifier = ExportJob.Format.STATA
    extension = "dta"
    content_type = "application/x-stata-dta"
    writer = "write_dta"


@register
class SpssExporter(StatisticalExporter):
    identifier = ExportJob.Format.SPSS
    extension = "sav"
    content_type = "application/x-spss-sav"
    writer = "write_sav"
