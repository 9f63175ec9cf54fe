"""The codebook: every exported variable, defined once, as data.

The tables' columns (``tables.CASE_COLUMNS``, ``tables.COMPLICATION_COLUMNS``)
are the names of ``CASE_VARIABLES`` and ``COMPLICATION_VARIABLES``: a column
cannot exist without its entry. The columns the analysis options add (a
``<name>_label`` beside each coded column, one ``fact_<name>`` column per
recorded fact) are derived here from the same entries (``label_variable``,
``FACT_VARIABLES``), and every output (the REDCap data dictionary, the page,
the PDF, the Stata and SPSS value labels) is generated from them.

A variable has a label (translated: English and French through gettext), a
type, a unit, its allowed codes with their labels (``choices``, a callable so
that a department's vocabulary is read when asked) and, for a computed column,
how it is derived.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import override

from complications.ctcae import ADL, FACT_NAMES, INTERVENTIONS, SYMPTOMS
from complications.ctcae.facts import BOOLEAN_FACTS, COUNT_FACTS, MEASUREMENT_LIMITS
from complications.ctcae.pigsf import PIGSF_EVENTS
from complications.models import Outcome, Relatedness, Window
from registry.models import Aetiology, Anesthesia, FractureType, Guidance, Sex, Side, Site

Choices = tuple[tuple[str | int, Any], ...]

# Types: what a cell holds.
INTEGER, DECIMAL, TEXT, BOOLEAN, DATE, DATETIME, LIST = (
    "integer",
    "decimal",
    "text",
    "boolean",
    "date",
    "datetime",
    "list",
)
TYPE_LABELS = {
    INTEGER: _("integer"),
    DECIMAL: _("decimal number"),
    TEXT: _("text"),
    BOOLEAN: _("boolean (true/false)"),
    DATE: _("date (YYYY-MM-DD)"),
    DATETIME: _("date and time (ISO 8601, the department's offset)"),
    LIST: _("list (values joined by ';')"),
}
TABLE_LABELS = {
    "cases": _("Cases (one row per fracture)"),
    "complications": _("Complications (one row per event)"),
    "outcomes": _("Outcomes (XLSX sheet: crude delayed rate and cumulative incidence)"),
}


@dataclass(frozen=True)
class Variable:
    name: str
    label: Any  # a lazy translation
    type: str
    choices: Callable[[], Choices] | None = None
    unit: Any = ""
    derivation: Any = ""  # how a computed column is derived; empty for a recorded value
    identifier: bool = False  # shown only to holders of registry.export_identifiers
    note: Any = ""

    def codes(self) -> Choices:
        return self.choices() if self.choices else ()

    @property
    def coded(self) -> bool:
        return self.choices is not None


def _of(choices: Any) -> Callable[[], Choices]:
    return lambda: tuple(choices.choices)


def _scale(values: tuple[str, ...], labels: dict[str, Any]) -> Callable[[], Choices]:
    return lambda: tuple((v, labels.get(v, v)) for v in values)


def _grades() -> Choices:
    return tuple((g, _("Grade %(grade)s") % {"grade": g}) for g in range(1, 6))


def _severity() -> Choices:
    return (("minor", _("Minor (grades 1-2)")), ("major", _("Major (grades 3-5)")))


def _pigsf() -> Choices:
    return tuple((event.code, event.label) for event in PIGSF_EVENTS)


def _cirse() -> Choices:
    return tuple((g, _("CIRSE grade %(grade)s") % {"grade": g}) for g in range(1, 7))


def _sir() -> Choices:
    return tuple((c, _("SIR class %(class)s") % {"class": c}) for c in "ABCDEF")


def _windows() -> Choices:
    return tuple(Window.choices)


_WINDOW_LABEL = dict(Window.choices)

_ID = _("The registry's internal id; joins the cases, the complications and the FHIR Bundle.")


def _window_variables() -> Iterator[Variable]:
    for window in Window.values:
        yield Variable(
            f"{window}_complication",
            _("Complication in the window: %(window)s") % {"window": _WINDOW_LABEL[window]},
            BOOLEAN,
            derivation=_(
                "True when at least one complication concerning this fracture is in this window."
            ),
        )
        yield Variable(
            f"{window}_max_grade",
            _("Highest CTCAE grade in the window: %(window)s") % {"window": _WINDOW_LABEL[window]},
            INTEGER,
            choices=_grades,
            derivation=_(
                "The highest grade of the complications concerning this fracture in this "
                "window; empty when there is none."
            ),
        )


_DATETIME_NOTE = _(
    "With date shifting: moved by the patient's secret offset (whole days); with year-only "
    "dates: the year alone."
)

# The keys both tables carry after their own id: the case, the patient and the department.
_CASE_KEYS: tuple[Variable, ...] = (
    Variable("procedure_id", _("Procedure id"), INTEGER, derivation=_ID),
    Variable("patient_id", _("Patient id"), INTEGER, derivation=_ID),
    Variable(
        "registry_id",
        _("Registry id (the department's patient identifier)"),
        TEXT,
        identifier=True,
        note=_("Only for holders of the export-identifiers permission; never when de-identified."),
    ),
    Variable("department", _("Department code"), TEXT),
)

CASE_VARIABLES: tuple[Variable, ...] = (
    Variable("fracture_id", _("Fracture id"), INTEGER, derivation=_ID),
    *_CASE_KEYS,
    Variable("sex", _("Sex"), TEXT, choices=_of(Sex)),
    Variable(
        "age_at_procedure",
        _("Age at the procedure"),
        INTEGER,
        unit=_("years"),
        derivation=_(
            "Whole years between the birth date and the procedure's local date "
            "(the birth date itself is never exported)."
        ),
    ),
    Variable(
        "procedure_started_at",
        _("Procedure start"),
        DATETIME,
        note=_DATETIME_NOTE,
    ),
    Variable("procedure_ended_at", _("Procedure end"), DATETIME, note=_DATETIME_NOTE),
    Variable("guidance", _("Guidance"), TEXT, choices=_of(Guidance)),
    Variable("anesthesia", _("Anaesthesia"), TEXT, choices=_of(Anesthesia)),
    Variable(
        "operator",
        _("Operator"),
        TEXT,
        note=_("With operator pseudonyms: OP- and 8 characters, the same for one operator."),
    ),
    Variable("fracture_type", _("Fracture type"), TEXT, choices=_of(FractureType)),
    Variable("site", _("Site"), TEXT, choices=_of(Site)),
    Variable("side", _("Side"), TEXT, choices=_of(Side)),
    Variable("aetiology", _("Aetiology"), TEXT, choices=_of(Aetiology)),
    Variable("screws", _("Screws"), INTEGER, unit=_("screws")),
    Variable("cement_augmented", _("Cement augmentation"), BOOLEAN),
    Variable(
        "contact_after_end",
        _("Follow-up contact after the procedure"),
        BOOLEAN,
        derivation=_(
            "Follow-up evidence: a recorded follow-up contact covering this fracture strictly "
            "after the procedure end."
        ),
    ),
    Variable(
        "contact_beyond_24h",
        _("Follow-up contact beyond 24 hours"),
        BOOLEAN,
        derivation=_(
            "Follow-up evidence: a recorded follow-up contact covering this fracture more than "
            "24 hours after the procedure end (what a delayed complication can be seen by)."
        ),
    ),
    *_window_variables(),
)

COMPLICATION_VARIABLES: tuple[Variable, ...] = (
    Variable("complication_id", _("Complication id"), INTEGER, derivation=_ID),
    *_CASE_KEYS,
    Variable(
        "fracture_ids",
        _("Fractures concerned"),
        LIST,
        derivation=_("The ids of the selected fractures this complication concerns."),
    ),
    Variable("term", _("CTCAE term (MedDRA code)"), TEXT),
    Variable("term_name", _("CTCAE term name"), TEXT),
    Variable("soc", _("System organ class"), TEXT),
    Variable("specify", _('Specification ("Other, specify" terms)'), TEXT),
    Variable(
        "pigsf_event",
        _("Screw-fixation event"),
        TEXT,
        choices=_pigsf,
        derivation=_(
            "From the term and the specification: the registry's screw-fixation event the "
            "specification names (its label, or the label and a colon); empty otherwise."
        ),
    ),
    Variable("onset_at", _("Onset (date and time)"), DATETIME, note=_DATETIME_NOTE),
    Variable("onset_date", _("Onset (date only)"), DATE, note=_DATETIME_NOTE),
    Variable("during_procedure", _("During the procedure"), BOOLEAN),
    Variable(
        "window",
        _("Window"),
        TEXT,
        choices=_windows,
        derivation=_(
            "Per-procedural when it began during the procedure; early when its onset is less "
            "than 24 hours after the procedure end; delayed from 24 hours on (an onset date "
            "without a time counts from the end of that day)."
        ),
    ),
    Variable(
        "hours_after_end",
        _("Hours after the procedure end"),
        DECIMAL,
        unit=_("hours"),
        derivation=_(
            "The onset minus the procedure end, in hours (0 for a per-procedural event); "
            "unaffected by date shifting."
        ),
    ),
    Variable(
        "facts",
        _("Recorded facts (JSON)"),
        TEXT,
        note=_("With flattened facts: one fact_<name> column per fact instead."),
    ),
    Variable(
        "auto_grade",
        _("Derived CTCAE grade"),
        INTEGER,
        choices=_grades,
        derivation=_(
            "The CTCAE v5 grade derived from the recorded facts by the term's criteria "
            "(the grading rules of the registry)."
        ),
    ),
    Variable("grade_override", _("Grade override"), INTEGER, choices=_grades),
    Variable(
        "grade",
        _("CTCAE grade"),
        INTEGER,
        choices=_grades,
        derivation=_("The override when there is one, the derived grade otherwise."),
    ),
    Variable(
        "severity",
        _("Severity"),
        TEXT,
        choices=_severity,
        derivation=_("Major for grades 3 to 5, minor for grades 1 and 2."),
    ),
    Variable(
        "grade_rationale",
        _("Grade rationale"),
        TEXT,
        derivation=_("The criteria the derived grade met, as the grading wrote them."),
    ),
    Variable("outcome", _("Outcome"), TEXT, choices=_of(Outcome)),
    Variable("relatedness", _("Relatedness to the procedure"), TEXT, choices=_of(Relatedness)),
    Variable(
        "cirse_grade",
        _("CIRSE grade"),
        INTEGER,
        choices=_cirse,
        derivation=_("From the outcome facts, by the CIRSE classification (grades 1-6)."),
    ),
    Variable(
        "sir_class",
        _("SIR class"),
        TEXT,
        choices=_sir,
        derivation=_("From the outcome facts, by the SIR outcome classes (A-F)."),
    ),
)

_SCALE_LABELS: dict[str, Any] = {
    "none": _("None"),
    "mild": _("Mild"),
    "moderate": _("Moderate"),
    "severe": _("Severe"),
    "local": _("Local"),
    "oral": _("Oral"),
    "iv": _("Intravenous"),
    "minimally_invasive": _("Minimally invasive"),
    "invasive": _("Invasive"),
    "urgent": _("Urgent"),
    "instrumental": _("Instrumental ADL"),
    "self_care": _("Self-care ADL"),
}
_FACT_LABELS: dict[str, Any] = {
    "symptoms": _("Symptoms"),
    "intervention": _("Intervention"),
    "transfusion_units": _("Transfusion units"),
    "hospitalization": _("Hospitalisation"),
    "adl": _("Activities of daily living limited"),
    "disabling": _("Disabling"),
    "life_threatening": _("Life-threatening"),
    "death": _("Death"),
    "temperature_c": _("Temperature"),
    "fever_hours": _("Fever duration"),
    "hemoglobin_g_dl": _("Haemoglobin"),
    "criteria": _("CTCAE criteria met"),
}
_FACT_SCALES = {"symptoms": SYMPTOMS, "intervention": INTERVENTIONS, "adl": ADL}
_FACT_UNITS: dict[str, Any] = {
    "transfusion_units": _("units"),
    "temperature_c": _("°C"),
    "fever_hours": _("hours"),
    "hemoglobin_g_dl": _("g/dL"),
}


def _fact_variable(name: str) -> Variable:
    label = _("Fact: %(fact)s") % {"fact": _FACT_LABELS[name]}
    kind = (
        TEXT
        if name in _FACT_SCALES
        else BOOLEAN
        if name in BOOLEAN_FACTS
        else INTEGER
        if name in COUNT_FACTS
        else DECIMAL
        if name in MEASUREMENT_LIMITS
        else LIST
    )
    return Variable(
        f"fact_{name}",
        label,
        kind,
        choices=_scale(_FACT_SCALES[name], _SCALE_LABELS) if name in _FACT_SCALES else None,
        unit=_FACT_UNITS.get(name, ""),
        note=_("The recorded fact; empty when it was not recorded."),
    )


# One column per recorded fact, in the order of the facts' definition (flattened facts).
FACT_VARIABLES: tuple[Variable, ...] = tuple(_fact_variable(name) for name in FACT_NAMES)

LABEL_SUFFIX = "_label"


def label_variable(variable: Variable) -> Variable:
    """The ``<name>_label`` column beside a coded column (labels option)."""
    return Variable(
        variable.name + LABEL_SUFFIX,
        _("%(label)s (label)") % {"label": variable.label},
        TEXT,
        derivation=_("The label of the code in %(column)s, in the exporting user's language.")
        % {"column": variable.name},
    )


# The XLSX export's "outcomes" sheet (complications.exports.xlsx): per severity, the crude
# delayed rate per fracture beside the cumulative incidence at 30/90/180/365 days.
OUTCOME_VARIABLES: tuple[Variable, ...] = (
    Variable(
        "severity",
        _("Severity counted"),
        TEXT,
        choices=_scale(("any", "major"), {"any": _("Any grade"), "major": _("Major (grade 3-5)")}),
    ),
    Variable(
        "measure",
        _("Measure"),
        TEXT,
        choices=_scale(
            ("crude_delayed_rate", "cumulative_incidence"),
            {
                "crude_delayed_rate": _("Crude delayed rate (the reference study's proportion)"),
                "cumulative_incidence": _("Cumulative incidence (Aalen-Johansen, death competing)"),
            },
        ),
    ),
    Variable(
        "day",
        _("Days after the procedure end"),
        INTEGER,
        unit=_("days"),
        note=_("30, 90, 180 or 365 for the cumulative incidence; empty for the crude rate."),
    ),
    Variable(
        "value",
        _("Estimate"),
        DECIMAL,
        derivation=_(
            "Crude: fractures with a delayed complication (of that severity) over the fractures "
            "with follow-up beyond 24 h. Cumulative incidence: docs/domain.md section 4b."
        ),
    ),
    Variable("ci95_low", _("Lower bound of the 95 % band"), DECIMAL),
    Variable("ci95_high", _("Upper bound of the 95 % band"), DECIMAL),
    Variable("at_risk", _("Units at risk"), INTEGER, unit=_("fractures")),
)

VARIABLES: dict[str, tuple[Variable, ...]] = {
    "cases": CASE_VARIABLES,
    "complications": COMPLICATION_VARIABLES,
    "outcomes": OUTCOME_VARIABLES,
}


@dataclass(frozen=True)
class Entry:
    """A variable as it appears in a table, for the generated documents."""

    table: str
    variable: Variable
    options: tuple[str, ...] = field(default=())  # the options that add this column


def entries() -> Iterator[Entry]:
    """Every column any export can hold, table by table, in column order."""
    for table, variables in VARIABLES.items():
        for variable in variables:
            if variable.name == "facts":
                yield Entry(table, variable)
                for fact in FACT_VARIABLES:
                    yield Entry(table, fact, ("flatten_facts",))
                    if fact.coded:
                        yield Entry(table, label_variable(fact), ("flatten_facts", "labels"))
                continue
            yield Entry(table, variable)
            if variable.coded:
                yield Entry(table, label_variable(variable), ("labels",))


def variable(table: str, name: str) -> Variable | None:
    """The entry of a column of ``table``, whatever the options; None when there is none."""
    for entry in entries():
        if entry.table == table and entry.variable.name == name:
            return entry.variable
    return None


def in_language(text: Any, language: str) -> str:
    with override(language):
        return str(text)
