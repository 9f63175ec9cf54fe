"""Analysis-ready exports: the options that reshape the tables' rows.

Every option is off by default, and with the defaults the tables are exactly
those of ``tables`` (the API contract's exports are unchanged). The options
are applied to the rows of ``tables`` in Python, by every format that writes
the tables (CSV, XLSX, Stata, SPSS); the PostgreSQL CSV variant hands a
download with options to the Python path.

- ``labels``: a ``<column>_label`` column beside each coded column, the code's
  label in the exporting user's language (``language``);
- ``flatten_facts``: the facts JSON replaced by one ``fact_<name>`` column per
  fact (``codebook.FACT_VARIABLES``), criteria joined by ';';
- ``dates``: ``exact`` (default), ``shifted`` (every date and datetime of a
  patient moved by the patient's secret offset, see ``date_offset``) or
  ``year`` (the year alone);
- ``operators``: ``names`` (default) or ``pseudonyms`` (``operator_pseudonym``);
- ``dialect`` (CSV): ``standard`` (default) or ``excel_eu`` (semicolons,
  UTF-8 with a byte order mark, decimal commas: what Excel reads in a
  French or German locale);
- ``real_dates`` (XLSX): dates and datetimes as typed cells with a number
  format, in the department's local time (a spreadsheet has no time zones).

De-identification
-----------------
Any de-identifying option (shifted or year-only dates, operator pseudonyms)
also drops ``registry_id``, whatever the user's permissions: a file asked to be
de-identified never carries an identifier. The offsets and pseudonyms are
HMAC-SHA256 of the patient's internal id (the operator's name and department)
under the secret setting ``EXPORT_PSEUDONYM_SECRET`` (derived from
``SECRET_KEY`` when unset): stable across exports, so files of two dates join,
and impossible to recompute without the secret. The offset is a whole number
of days between -365 and +365, never 0, the same for all of a patient's dates,
so every interval within a patient (durations, hours after the end, days to
onset) is kept exactly; the age at the procedure is computed on the true dates.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.utils.translation import override

from complications.exports.codebook import (
    DATE,
    DATETIME,
    FACT_VARIABLES,
    LABEL_SUFFIX,
    VARIABLES,
    Variable,
)
from complications.exports.selection import DATES, DIALECTS, OPERATORS, ExportOptions, Selection
from complications.exports.tables import TABLES, Row

MAX_SHIFT_DAYS = 365

__all__ = ["DATES", "DIALECTS", "OPERATORS", "ExportOptions", "export_columns", "export_rows"]


def _secret() -> bytes:
    secret = (
        getattr(settings, "EXPORT_PSEUDONYM_SECRET", "")
        or hmac.new(
            settings.SECRET_KEY.encode(), b"pigsf-export-pseudonyms", hashlib.sha256
        ).hexdigest()
    )
    return secret.encode()


def _digest(message: str) -> bytes:
    return hmac.new(_secret(), message.encode(), hashlib.sha256).digest()


def date_offset(patient_id: int) -> timedelta:
    """The patient's secret date shift: 1 to 365 days, forwards or backwards."""
    digest = _digest(f"date-shift:{patient_id}")
    days = 1 + int.from_bytes(digest[:4], "big") % MAX_SHIFT_DAYS
    return timedelta(days=days if digest[4] & 1 else -days)


def operator_pseudonym(department: str, operator: str) -> str:
    """OP- and 8 characters, the same for one operator of one department in every export."""
    digest = _digest(f"operator:{department}:{operator.strip().casefold()}")
    return "OP-" + digest.hex()[:8].upper()


def _shift(value: date, offset: timedelta) -> date:
    """A date moved by ``offset``; a datetime moved in UTC, then shown in its own zone
    again, so that the elapsed time between two of them is kept exactly (a shift
    across a daylight saving change moves the wall clock by an hour instead)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return (value.astimezone(UTC) + offset).astimezone(value.tzinfo)
    return value + offset


@cache
def _by_name(kind: str) -> dict[str, Variable]:
    return {variable.name: variable for variable in VARIABLES[kind]}


def _dated(kind: str) -> tuple[str, ...]:
    return tuple(v.name for v in VARIABLES[kind] if v.type in (DATE, DATETIME))


def _coded(kind: str) -> tuple[str, ...]:
    return tuple(v.name for v in VARIABLES[kind] if v.coded)


def export_columns(kind: str, selection: Selection) -> list[str]:
    """The columns of table ``kind`` under the selection's options."""
    options = selection.options
    columns = []
    coded = set(_coded(kind))
    fact_coded = {v.name for v in FACT_VARIABLES if v.coded}
    for name in TABLES[kind].columns(selection):
        if name == "registry_id" and options.deidentified:
            continue
        if name == "facts" and options.flatten_facts:
            for fact in FACT_VARIABLES:
                columns.append(fact.name)
                if options.labels and fact.name in fact_coded:
                    columns.append(fact.name + LABEL_SUFFIX)
            continue
        columns.append(name)
        if options.labels and name in coded:
            columns.append(name + LABEL_SUFFIX)
    return columns


def _labels(variable: Variable) -> dict[Any, str]:
    return {code: str(label) for code, label in variable.codes()}


def export_rows(kind: str, selection: Selection) -> Iterator[Row]:
    """The rows of table ``kind`` under the selection's options."""
    rows = TABLES[kind].rows(selection)
    options = selection.options
    if not options.reshapes:
        yield from rows
        return
    dated = _dated(kind)
    with override(options.language or settings.LANGUAGE_CODE):
        labelled = {name: _labels(_by_name(kind)[name]) for name in _coded(kind) if options.labels}
        fact_labels = {v.name: _labels(v) for v in FACT_VARIABLES if v.coded and options.labels}
    for row in rows:
        if options.dates == "shifted":
            offset = date_offset(row["patient_id"])
            for name in dated:
                if row.get(name) is not None:
                    row[name] = _shift(row[name], offset)
        elif options.dates == "year":
            for name in dated:
                value = row.get(name)
                if isinstance(value, date | datetime):
                    row[name] = value.year
        if options.operators == "pseudonyms" and row.get("operator"):
            row["operator"] = operator_pseudonym(row["department"], row["operator"])
        if options.deidentified:
            row.pop("registry_id", None)
        if options.flatten_facts and "facts" in row:
            facts = row.pop("facts") or {}
            for fact in FACT_VARIABLES:
                row[fact.name] = facts.get(fact.name.removeprefix("fact_"))
            for name, labels in fact_labels.items():
                row[name + LABEL_SUFFIX] = labels.get(row[name])
        for name, labels in labelled.items():
            row[name + LABEL_SUFFIX] = labels.get(row.get(name))
        yield row
