"""Text cells that a spreadsheet must not take for a formula (CSV / formula injection).

A cell beginning with one of ``FORMULA_TRIGGERS`` is read by Excel, LibreOffice
and Google Sheets as a formula when the file is opened: an operator's name, a
"specify" text or an audit reason typed as ``=HYPERLINK(...)`` would then run in
the reader's spreadsheet. Every text cell of every export follows this one rule:

- CSV: the text is written after a ``'``, which spreadsheets read as "text
  follows" (the CSV tables of ``complications.exports``, their PostgreSQL
  formatting in ``complications.exports.sql_csv``, derived from the same
  characters, and the audit export);
- XLSX: the cell is a string cell with Excel's quote prefix, the workbook's own
  form of that ``'``: the value stays intact and is never evaluated.

Only text is concerned: a number (``-3``, a negative duration) is a number.
"""

from __future__ import annotations

from typing import TypeVar

FORMULA_TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
TEXT_PREFIX = "'"

T = TypeVar("T")


def formula_like(value: object) -> bool:
    """Whether ``value`` is text a spreadsheet would read as a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_TRIGGERS)


def csv_text(value: T) -> T | str:
    """A CSV cell's value: formula-like text behind a ``'``, anything else unchanged."""
    return TEXT_PREFIX + value if formula_like(value) else value  # type: ignore[operator]
