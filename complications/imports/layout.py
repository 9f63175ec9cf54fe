"""The import layout (docs: ../shared/docs/import-format.md) as data.

One sheet per table, in the order the rows are imported (a row refers only to
rows of the sheets before it). Each column has a kind, which says how its text
is read (``complications.imports.parse``); the key columns find an existing
record. Grades and windows are never columns: the services derive them.
"""

from __future__ import annotations

from dataclasses import dataclass

from complications.ctcae.facts import ORDINAL_SCALES

# Kinds of column values.
TEXT, CODE, DATE, DATETIME, BOOL, INT, FLOAT, SITES, CRITERIA = (
    "text",
    "code",
    "date",
    "datetime",
    "bool",
    "int",
    "float",
    "sites",
    "criteria",
)


@dataclass(frozen=True)
class Column:
    name: str
    kind: str = TEXT
    required: bool = False  # the column must be present and the cell filled


@dataclass(frozen=True)
class Sheet:
    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


PATIENTS = Sheet(
    "patients",
    ("registry_id",),
    (
        Column("registry_id", required=True),
        Column("sex", CODE, required=True),
        Column("birth_date", DATE, required=True),
        Column("death_date", DATE),
        Column("death_related", BOOL),
    ),
)
PROCEDURES = Sheet(
    "procedures",
    ("registry_id", "started_at"),
    (
        Column("registry_id", required=True),
        Column("started_at", DATETIME, required=True),
        Column("ended_at", DATETIME, required=True),
        Column("guidance", CODE, required=True),
        Column("anesthesia", CODE, required=True),
        Column("operator"),
        Column("follow_up_status", CODE),
        Column("follow_up_closed_on", DATE),
    ),
)
FRACTURES = Sheet(
    "fractures",
    ("registry_id", "procedure_started_at", "site", "side"),
    (
        Column("registry_id", required=True),
        Column("procedure_started_at", DATETIME, required=True),
        Column("site", CODE, required=True),
        Column("side", CODE, required=True),
        Column("type", CODE, required=True),
        Column("screws", INT),
        Column("cement_augmented", BOOL),
    ),
)
FOLLOW_UPS = Sheet(
    "follow_ups",
    ("registry_id", "procedure_started_at", "contact_at"),
    (
        Column("registry_id", required=True),
        Column("procedure_started_at", DATETIME, required=True),
        Column("contact_at", DATETIME, required=True),
        Column("kind", CODE, required=True),
        Column("fracture_sites", SITES),
        Column("notes"),
    ),
)
FACT_COLUMNS: tuple[Column, ...] = (
    Column("symptoms", CODE),
    Column("intervention", CODE),
    Column("transfusion_units", INT),
    Column("hospitalization", BOOL),
    Column("adl", CODE),
    Column("disabling", BOOL),
    Column("life_threatening", BOOL),
    Column("death", BOOL),
    Column("temperature_c", FLOAT),
    Column("fever_hours", FLOAT),
    Column("hemoglobin_g_dl", FLOAT),
    Column("criteria", CRITERIA),
)
FACT_NAMES: tuple[str, ...] = tuple(c.name for c in FACT_COLUMNS)
ONSET_COLUMNS = ("onset_at", "onset_date", "during_procedure")
COMPLICATIONS = Sheet(
    "complications",
    ("registry_id", "procedure_started_at", "term", *ONSET_COLUMNS),
    (
        Column("registry_id", required=True),
        Column("procedure_started_at", DATETIME, required=True),
        Column("term", required=True),
        Column("onset_at", DATETIME),
        Column("onset_date", DATE),
        Column("during_procedure", BOOL),
        Column("specify"),
        Column("fracture_sites", SITES),
        *FACT_COLUMNS,
        Column("grade_override", INT),
        Column("override_reason"),
        Column("outcome", CODE),
        Column("description"),
    ),
)

SHEETS: tuple[Sheet, ...] = (PATIENTS, PROCEDURES, FRACTURES, FOLLOW_UPS, COMPLICATIONS)
BY_NAME: dict[str, Sheet] = {s.name: s for s in SHEETS}

# The codes of the facts' scales come from the pure core (the one list).
FACT_SCALES: dict[str, tuple[str, ...]] = dict(ORDINAL_SCALES)
