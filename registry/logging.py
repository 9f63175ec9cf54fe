"""Keep patient identifiers out of the logs.

Logs are shipped, kept and read far more widely than the database, so a
registry id, a local hospital number or a birth date must never reach them.
They can arrive in ordinary places: the query string of a request line
(``/cases/?q=PIGSF-001``, ``?registry_id=...``), a form or JSON body quoted in an
error, or PostgreSQL's detail of a unique violation (``Key (department_id,
registry_id)=(1, PIGSF-001) already exists``). ``MaskIdentifiers`` is a logging
filter (configured on the console handler in ``settings.LOGGING``) that
replaces their values with ``***`` in the formatted message and traceback
before any handler writes them. It masks by *name* (the parameter or column),
because a registry id has no recognisable shape of its own.
"""

from __future__ import annotations

import logging
import re

MASK = "***"

# Parameter and column names whose values identify a patient. ``q`` is the case and
# patient lists' registry-id search box; ``hospital_number`` is only ever hashed.
SENSITIVE_NAMES = ("registry_id", "hospital_number", "hospital_number_hash", "birth_date", "q")

_NAMES = "|".join(re.escape(name) for name in SENSITIVE_NAMES)
_KEY = rf"""(?P<key>(?<![\w.-])(?:{_NAMES})(?:%5B%5D|\[\])?)"""
# A quoted value, whole: "name": "value", 'name': 'value', name="value" (JSON, dict reprs).
_QUOTED = re.compile(
    rf"""{_KEY}(?P<sep>["']?\s*[:=]\s*)(?P<quote>["'])(?P<value>.*?)(?P=quote)""", re.I
)
# An unquoted value, up to the next separator: name=value in a query string or form body,
# name: value in a message, and a date's repr whole in a dict repr.
_BARE = re.compile(
    rf"""{_KEY}(?P<sep>=|["']?\s*:\s*)(?P<value>datetime\.date\([^)]*\)|[^&\s"',;)}}\]]+)""", re.I
)
# PostgreSQL's "Key (col, col)=(value, value)" detail: the values of any key that
# names a sensitive column.
_PG_KEY = re.compile(r"Key \((?P<columns>[^)]*)\)=\((?P<values>[^)]*)\)")
_SENSITIVE_COLUMN = re.compile(rf"\b(?:{_NAMES})\b", re.IGNORECASE)


def _mask_pg_key(match: re.Match[str]) -> str:
    if not _SENSITIVE_COLUMN.search(match["columns"]):
        return match[0]
    return f"Key ({match['columns']})=({MASK})"


def mask_identifiers(text: str) -> str:
    """``text`` with the values of every sensitive name replaced by ``***``."""
    text = _PG_KEY.sub(_mask_pg_key, text)
    text = _QUOTED.sub(lambda m: f"{m['key']}{m['sep']}{m['quote']}{MASK}{m['quote']}", text)
    return _BARE.sub(lambda m: f"{m['key']}{m['sep']}{MASK}", text)


class MaskIdentifiers(logging.Filter):
    """Masks identifiers in the formatted message and the traceback of each record.

    The message is formatted here (``getMessage``) and stored already masked,
    because the identifiers are usually in the arguments (the request line of
    ``django.server``, gunicorn's access atoms), not in the format string. A
    record that cannot be formatted is left for the handler to report, since a
    filter that raises would break the logging call in the application.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):
            return True
        masked = mask_identifiers(message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_identifiers(record.exc_text)
        return True
