"""What the importer reads: the layout sheets' rows, from a file in the import
layout or, through a column mapping, from a legacy spreadsheet.

A ``Source`` answers, per layout sheet, its header problems and its rows
(``Row``: the raw cells by layout column, each with the sheet, row and column
of the file it came from, so an error names the user's own cell).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from complications.imports import layout
from complications.imports.parse import Formats, Row, Tables, display, is_empty


@dataclass(frozen=True)
class HeaderError:
    sheet: str
    column: str
    message: str


class Source:
    formats: Formats

    def header_errors(self) -> list[HeaderError]:
        raise NotImplementedError

    def rows(self, sheet: layout.Sheet) -> Iterator[Row]:
        raise NotImplementedError

    def count(self) -> int:
        raise NotImplementedError


def _header(cells: Any) -> list[str]:
    return ["" if c is None else str(c).strip() for c in cells]


class LayoutSource(Source):
    """A file in the import layout: one table per sheet, named as the layout's.

    ``rename`` (from a mapping) maps a file's column names to the layout's, per
    sheet; ``ignore`` lists columns mapped away.
    """

    def __init__(
        self,
        tables: Tables,
        formats: Formats,
        *,
        rename: Mapping[str, Mapping[str, str]] | None = None,
        ignore: tuple[str, ...] = (),
    ) -> None:
        self.tables, self.formats = tables, formats
        self.rename = {k: dict(v) for k, v in (rename or {}).items()}
        self.ignore = set(ignore)
        self.present = {n.strip().lower(): n for n in tables.names()}
        self._headers: dict[str, list[str]] = {}

    def _table(self, sheet: layout.Sheet) -> str | None:
        return self.present.get(sheet.name)

    def _columns(self, sheet: layout.Sheet) -> list[str] | None:
        """The layout column of each position of the header ("" = ignored)."""
        table = self._table(sheet)
        if table is None:
            return None
        if sheet.name not in self._headers:
            first = next(iter(self.tables.rows(table)), ())
            rename = self.rename.get(sheet.name, {})
            self._headers[sheet.name] = [
                "" if h in self.ignore or not h else rename.get(h, h) for h in _header(first)
            ]
        return self._headers[sheet.name]

    def header_errors(self) -> list[HeaderError]:
        errors: list[HeaderError] = []
        known = {s.name for s in layout.SHEETS}
        for name in self.tables.names():
            if name.strip().lower() not in known and name not in self.ignore:
                errors.append(
                    HeaderError(
                        name,
                        "",
                        _("Unknown sheet; the sheets are: %(names)s.")
                        % {"names": ", ".join(sorted(known))},
                    )
                )
        for sheet in layout.SHEETS:
            columns = self._columns(sheet)
            if columns is None:
                continue
            seen: set[str] = set()
            for column in columns:
                if not column:
                    continue
                if column not in sheet.names:
                    errors.append(HeaderError(sheet.name, column, _("Unknown column.")))
                elif column in seen:
                    errors.append(HeaderError(sheet.name, column, _("This column appears twice.")))
                seen.add(column)
            for spec in sheet.columns:
                if spec.required and spec.name not in seen:
                    errors.append(
                        HeaderError(sheet.name, spec.name, _("A required column is missing."))
                    )
        return errors

    def sheet_usable(self, sheet: layout.Sheet) -> bool:
        columns = self._columns(sheet) or []
        return all(c.name in columns for c in sheet.columns if c.required)

    def rows(self, sheet: layout.Sheet) -> Iterator[Row]:
        columns = self._columns(sheet)
        table = self._table(sheet)
        if columns is None or table is None or not self.sheet_usable(sheet):
            return
        wanted = [(i, c) for i, c in enumerate(columns) if c in sheet.names]
        for number, cells in enumerate(self.tables.rows(table), start=1):
            if number == 1:
                continue
            values = {c: (cells[i] if i < len(cells) else None) for i, c in wanted}
            if all(is_empty(v) for v in values.values()):
                continue
            yield Row(sheet.name, number, values)

    def count(self) -> int:
        return sum(self.tables.count(t) for s in layout.SHEETS if (t := self._table(s)) is not None)


class LegacySource(Source):
    """A legacy spreadsheet: one row per fracture, the patient's and procedure's
    columns repeated on each of its rows, follow-ups and complications in
    repeated groups of columns (``mapping``: see ``complications.imports.mapping``).

    Legacy files are small (a department's series): the layout rows are built
    once, in memory. A patient or procedure repeated with other values on a
    later row is an error at that row.
    """

    def __init__(self, tables: Tables, formats: Formats, mapping: Mapping[str, Any]) -> None:
        self.tables, self.formats, self.mapping = tables, formats, mapping
        names = tables.names()
        self.table = mapping.get("sheet") or (names[0] if names else "")
        self._rows: dict[str, list[Row]] | None = None
        self._errors: list[HeaderError] = []
        self.conflicts: list[tuple[Row, str, str]] = []

    def _values(self, column: str, value: Any) -> Any:
        table = self.mapping.get("values", {}).get(column)
        if table and isinstance(value, str):
            lowered = {str(k).strip().lower(): v for k, v in table.items()}
            return lowered.get(value.strip().lower(), value)
        return value

    def _build(self) -> dict[str, list[Row]]:
        if self._rows is not None:
            return self._rows
        out: dict[str, list[Row]] = {s.name: [] for s in layout.SHEETS}
        self._rows = out
        if self.table not in self.tables.names():
            self._errors.append(
                HeaderError(self.table, "", _("The mapping's sheet is not in the file."))
            )
            return out
        rows = self.tables.rows(self.table)
        header = _header(next(iter(rows), ()))
        index = {h: i for i, h in enumerate(header) if h}
        used: set[str] = set(self.mapping.get("ignore", []))

        def spec(name: str) -> list[dict[str, str]]:
            given = self.mapping.get(name) or []
            return [given] if isinstance(given, dict) else list(given)

        # Mapped columns that are not in the sheet (or not in the layout) are reported
        # once, here, and left out: every other cell is still read and checked.
        usable: dict[str, list[dict[str, str]]] = {}
        inherited = {
            "procedures": {"registry_id"},
            "fractures": {"registry_id", "procedure_started_at"},
            "follow_ups": {"registry_id", "procedure_started_at"},
            "complications": {"registry_id", "procedure_started_at", "fracture_sites"},
        }
        for sheet in layout.SHEETS:
            usable[sheet.name] = []
            for group in spec(sheet.name):
                kept: dict[str, str] = {}
                for target, source in group.items():
                    used.add(source)
                    if target not in sheet.names:
                        self._errors.append(
                            HeaderError(sheet.name, target, _("Unknown column in the mapping."))
                        )
                    elif source not in index:
                        self._errors.append(
                            HeaderError(
                                self.table,
                                source,
                                _("The mapping names a column that is not in the sheet."),
                            )
                        )
                    else:
                        kept[target] = source
                usable[sheet.name].append(kept)
                for column in sheet.columns:
                    if (
                        column.required
                        and column.name not in group
                        and column.name not in inherited.get(sheet.name, set())
                    ):
                        self._errors.append(
                            HeaderError(sheet.name, column.name, _("A required column is missing."))
                        )
        for h in header:
            if h and h not in used:
                self._errors.append(HeaderError(self.table, h, _("Unknown column.")))

        def groups(name: str) -> list[dict[str, str]]:
            return usable[name]

        keyed: dict[str, dict[tuple[Any, ...], Row]] = {s.name: {} for s in layout.SHEETS}
        for number, cells in enumerate(rows, start=2):
            if all(is_empty(c) for c in cells):
                continue
            made: dict[str, Row] = {}
            for sheet in layout.SHEETS:
                for group in groups(sheet.name):
                    values: dict[str, Any] = {}
                    origin: dict[str, tuple[str, int, str]] = {}
                    for target, source in group.items():
                        cell = cells[index[source]] if index[source] < len(cells) else None
                        values[target] = self._values(target, cell)
                        origin[target] = (self.table, number, source)
                    if all(is_empty(v) for v in values.values()):
                        continue
                    row = Row(sheet.name, number, values, origin)
                    self._inherit(row, made)
                    self._add(sheet, row, keyed[sheet.name], out[sheet.name])
                    if sheet.name in ("patients", "procedures", "fractures"):
                        made[sheet.name] = row
        return out

    def _inherit(self, row: Row, made: dict[str, Row]) -> None:
        """A row's keys from the patient, procedure and fracture of its line."""
        procedure, fracture = made.get("procedures"), made.get("fractures")
        patient = made.get("patients")
        parent = procedure or patient
        if row.sheet != "patients" and "registry_id" not in row.values and parent is not None:
            row.values["registry_id"] = parent.values.get("registry_id")
            row.origin["registry_id"] = parent.where("registry_id")
        if row.sheet in ("fractures", "follow_ups", "complications") and procedure is not None:
            if "procedure_started_at" not in row.values:
                row.values["procedure_started_at"] = procedure.values.get("started_at")
                row.origin["procedure_started_at"] = procedure.where("started_at")
        if row.sheet == "complications" and "fracture_sites" not in row.values and fracture:
            site, side = fracture.values.get("site"), fracture.values.get("side")
            if not is_empty(site) and not is_empty(side):
                row.values["fracture_sites"] = f"{display(site)}/{display(side)}"
                row.origin["fracture_sites"] = fracture.where("site")

    def _add(
        self, sheet: layout.Sheet, row: Row, keyed: dict[tuple[Any, ...], Row], out: list[Row]
    ) -> None:
        key = tuple(display(row.values.get(k)).strip().lower() for k in sheet.key)
        first = keyed.get(key)
        if first is None or sheet.name == "fractures":
            keyed.setdefault(key, row)
            out.append(row)
            return
        if sheet.name == "complications":
            # The same complication on each fracture row it concerns: one event, those fractures.
            sites = [
                display(first.values.get("fracture_sites")),
                display(row.values.get("fracture_sites")),
            ]
            merged = ";".join(dict.fromkeys(s for part in sites for s in part.split(";") if s))
            row_sites = row.values.pop("fracture_sites", None)
            first.values["fracture_sites"] = merged or row_sites
        for column, value in row.values.items():
            if display(first.values.get(column)).strip() != display(value).strip():
                self.conflicts.append(
                    (
                        row,
                        column,
                        _("Differs from the same record on row %(row)s (%(value)s).")
                        % {
                            "row": first.number,
                            "value": display(first.values.get(column)) or _("empty"),
                        },
                    )
                )

    def header_errors(self) -> list[HeaderError]:
        self._build()
        return self._errors

    def rows(self, sheet: layout.Sheet) -> Iterator[Row]:
        yield from self._build()[sheet.name]

    def count(self) -> int:
        return sum(len(rows) for rows in self._build().values())
