"""Column mappings: how a department's own spreadsheet maps onto the import layout.

A mapping is a JSON (or YAML) object, passed to the command, the page or the
API, and saved per department (``ImportMapping``). Two shapes:

- the layout with other names: ``{"rename": {"patients": {"N°": "registry_id"}},
  "ignore": ["Commentaire"]}``;
- a legacy sheet, one row per fracture (``"sheet"`` names it), the patient's and
  procedure's columns repeated on each row, follow-ups and complications in
  repeated groups of columns::

    {"sheet": "Série",
     "date_formats": ["%d/%m/%Y"], "datetime_formats": ["%d/%m/%Y %H:%M"],
     "values": {"sex": {"F": "female", "H": "male"}},
     "ignore": ["Commentaire"],
     "patients": {"registry_id": "N° patient", "sex": "Sexe", ...},
     "procedures": {"started_at": "Début", ...},
     "fractures": {"site": "Site", "side": "Côté", "type": "Type"},
     "follow_ups": [{"contact_at": "Suivi 1", "kind": "Type suivi 1"}],
     "complications": [{"term": "Complication 1", "onset_date": "Date 1"}, ...]}

  A row's follow-ups and complications take its patient's registry id and its
  procedure's start; a complication concerns the row's fracture unless mapped
  (the same complication on several rows concerns their fractures).

Any time without a zone is the department's local time. Unknown keys are refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from complications.imports import layout
from complications.imports.parse import Formats, Tables
from complications.imports.sources import LayoutSource, LegacySource, Source

KEYS = {
    "sheet",
    "date_formats",
    "datetime_formats",
    "values",
    "ignore",
    "rename",
    *(s.name for s in layout.SHEETS),
}


def parse_mapping(text: str | bytes) -> dict[str, Any]:
    """A mapping file's text (JSON, or YAML when PyYAML is installed) as a checked mapping."""
    if isinstance(text, bytes):
        text = text.decode("utf-8-sig")
    try:
        data = json.loads(text)
    except ValueError:
        try:
            import yaml
        except ImportError:
            raise ValidationError({"mapping": [_("The mapping is not valid JSON.")]}) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            raise ValidationError(
                {"mapping": [_("The mapping is neither valid JSON nor YAML.")]}
            ) from None
    return check_mapping(data)


def check_mapping(data: Any) -> dict[str, Any]:
    if not data:
        return {}
    if not isinstance(data, Mapping):
        raise ValidationError({"mapping": [_("A mapping is an object of named entries.")]})
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise ValidationError(
            {"mapping": [_("Unknown mapping entries: %(names)s.") % {"names": ", ".join(unknown)}]}
        )
    return dict(data)


def load_mapping(path: Path) -> dict[str, Any]:
    return parse_mapping(path.read_bytes())


def is_legacy(mapping: Mapping[str, Any]) -> bool:
    return any(s.name in mapping for s in layout.SHEETS)


def source_for(tables: Tables, mapping: Mapping[str, Any], *, time_zone: str) -> Source:
    formats = Formats(
        time_zone=time_zone,
        dates=tuple(mapping.get("date_formats", ())),
        datetimes=tuple(mapping.get("datetime_formats", ())),
    )
    if is_legacy(mapping):
        return LegacySource(tables, formats, mapping)
    return LayoutSource(
        tables, formats, rename=mapping.get("rename"), ignore=tuple(mapping.get("ignore", ()))
    )
