"""Grade a CTCAE v5.0 term from recorded facts.

How it works, and why:

- A grade's text is a list of clauses joined by semicolons, and a semicolon means "or". A clause
  holds when the clinician ticked it (``facts.criteria``) or when the recorded facts satisfy its
  mapping. The event takes the highest grade with a holding clause, and never a grade the term
  lacks.
- The mappings are data: `GENERIC_CLAUSES` pairs a regular expression over the normalised clause
  with a predicate written as nested tuples, e.g. ``("intervention", "eq", "iv")`` or
  ``("all", (spec, spec))``. `_evaluate` interprets them; nothing is built into code strings or
  evaluated. Each mapping is sound rather than complete: the facts it asks for imply the clause.
  A leading qualifier no fact records ("Localized, local intervention indicated") is assumed and
  named in the rationale; clauses no fact can express otherwise are left to the checklist.
- Measurement clauses (temperature, haemoglobin, transfused units) are parsed from the CTCAE text,
  so the numbers and the open/closed ends come from the NCI's wording, not from copies in code.
- Facts are three-valued: a fact that was not recorded is unknown, and a clause that depends on
  it is neither true nor false. Negative clauses ("intervention not indicated") therefore hold
  only when the fact is recorded and absent.
- Some clauses only qualify their neighbours and would overgrade if read alone: a clause
  repeated later in the same term counts where it first appears; a clause that holds when
  nothing happened ("hospitalization not indicated") is not read alone above the term's lowest
  grade; a clause reading the same facts as a lower grade's, told apart only by a qualifier
  ("Non-urgent"), is left to the checklist; and a broader higher clause does not swallow a
  lower grade's precise one (see `_compile_cached` and `_narrowed`). The rules are stated for
  users in docs/domain.md, "Grading conventions".
- A ticked clause that the recorded facts deny is refused, not graded.
- Rationales, warnings and refusals are `messages.Message` objects rendered in English for the
  record and in the interface's language by the Django side.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from .catalogue import GRADES, Term
from .facts import ORDINAL_SCALES, Facts, normalise_clause
from .messages import FactNames, FactValues, Joined, Message, Translate, render_all

__all__ = [
    "GENERIC_CLAUSES",
    "HEMOGLOBIN_LLN_G_DL",
    "CompiledClause",
    "GradeResult",
    "GradingError",
    "Match",
    "checklist",
    "clause_kind",
    "compile_term",
    "grade",
    "normalise_clause",
    "severity_for",
]

Spec = tuple[Any, ...]
ClauseKind = Literal["generic", "measurement", "checklist"]

# Lower limit of normal (LLN) for haemoglobin, g/dL, for "<LLN" in Anemia grade 1. CTCAE leaves
# the LLN to the local laboratory, and the registry stores no laboratory ranges, so it uses:
# - women 12.0 g/dL: the WHO anaemia threshold for non-pregnant adult women (WHO, "Haemoglobin
#   concentrations for the diagnosis of anaemia and assessment of severity",
#   WHO/NMH/NHD/MNM/11.1, 2011);
# - men 13.5 g/dL: the usual laboratory reference lower limit for adult men (WHO's anaemia
#   threshold for men is 13.0 g/dL; the registry follows the laboratory convention);
# - unknown sex 12.0 g/dL: the lower of the two, so that a missing sex never creates anaemia.
HEMOGLOBIN_LLN_G_DL: dict[str | None, float] = {"female": 12.0, "male": 13.5, None: 12.0}


class GradingError(ValueError):
    """The facts cannot be graded for this term; the message names the term and its grades.

    ``reason`` is "no_match" when no clause of any grade holds, "beyond_term" when the facts
    point at a grade the term lacks (death without grade 5, life-threatening without grade 4),
    and "contradiction" when a ticked clause says what the recorded facts deny. ``detail`` holds
    the same text as messages, to render in the interface's language (`Message.render`).
    """

    def __init__(
        self,
        detail: Sequence[Message],
        *,
        grades_available: tuple[int, ...],
        reason: str,
    ) -> None:
        self.detail = tuple(detail)
        super().__init__(render_all(self.detail, sep=" "))
        self.grades_available = grades_available
        self.reason = reason

    def render(self, translate: Translate | None = None) -> str:
        return render_all(self.detail, translate, sep=" ")


@dataclass(frozen=True)
class Match:
    """A clause that holds: its grade, its text as CTCAE writes it, and what made it hold."""

    grade: int
    clause: str
    source: Literal["generic", "measurement", "criteria"]


@dataclass(frozen=True)
class GradeResult:
    """The automatic grade with its explanation.

    ``rationale`` and ``warnings`` are the English texts kept in the record; ``explanation`` and
    ``warning_messages`` are the same as messages, for the interface's language
    (`rationale_in`, `warnings_in`).
    """

    grade: int
    severity: str
    rationale: str
    matched: tuple[Match, ...]
    grades_available: tuple[int, ...]
    warnings: tuple[str, ...] = ()
    explanation: tuple[Message, ...] = ()
    warning_messages: tuple[Message, ...] = ()

    def rationale_in(self, translate: Translate) -> str:
        return render_all(self.explanation, translate, sep=". ")

    def warnings_in(self, translate: Translate) -> tuple[str, ...]:
        return tuple(message.render(translate) for message in self.warning_messages)


@dataclass(frozen=True)
class CompiledClause:
    """A clause of a term with its kind and, when facts can decide it, its predicate.

    ``alternative_of`` is set for a threshold restated in other units ("<LLN - 6.2 mmol/L" next to
    "Hemoglobin (Hgb) <LLN - 10.0 g/dL"): the primary clause decides, the alternative is covered.
    ``repeat_of`` is set when the same clause text already appears earlier in the term
    ("Symptomatic" at grades 1 and 2 of Muscle weakness lower limb): the text cannot tell the two
    apart, so it counts where it first appears and the repeat is kind "repeated".
    ``qualifier`` is the part of the clause no fact records ("Localized" in "Localized, local
    intervention indicated"): the facts reach the clause assuming it, and the rationale says so.
    A clause of kind "qualified" reads the same facts as ``same_facts_as``, a clause of the lower
    grade ``repeat_of``, and differs from it only by ``qualifier`` (Hypotension: "Medical
    intervention indicated" at 3, "Non-urgent medical intervention indicated" at 2): the facts
    give the lower grade, and the higher clause applies when ticked.
    """

    grade: int
    text: str
    kind: ClauseKind | Literal["repeated", "qualified"]
    spec: Spec | None
    alternative_of: str | None = None
    repeat_of: int | None = None
    qualifier: str | None = None
    same_facts_as: str | None = None


# --- Predicate building blocks --------------------------------------------------------------
# A spec is (fact, op, value) or ("all" | "any", (spec, ...)). Ordinal facts compare by their
# position in facts.SYMPTOMS / INTERVENTIONS / ADL.

DEATH: Spec = ("death", "is", True)
LIFE_THREATENING: Spec = ("life_threatening", "is", True)
DISABLING: Spec = ("disabling", "is", True)
HOSPITALIZATION: Spec = ("hospitalization", "is", True)
NO_HOSPITALIZATION: Spec = ("hospitalization", "is", False)
TRANSFUSION: Spec = ("transfusion_units", "ge", 1)

ASYMPTOMATIC: Spec = ("symptoms", "eq", "none")
SYMPTOMATIC: Spec = ("symptoms", "ge", "mild")
MILD: Spec = ("symptoms", "eq", "mild")
MODERATE: Spec = ("symptoms", "eq", "moderate")
SEVERE: Spec = ("symptoms", "eq", "severe")
MILD_AT_MOST: Spec = ("symptoms", "le", "mild")

# A self-care limitation implies an instrumental one, so "instrumental" clauses accept both.
INSTRUMENTAL_ADL: Spec = ("adl", "ge", "instrumental")
SELF_CARE_ADL: Spec = ("adl", "eq", "self_care")
NO_ADL_LIMIT: Spec = ("adl", "eq", "none")

NO_INTERVENTION: Spec = ("intervention", "eq", "none")
ANY_INTERVENTION: Spec = ("intervention", "ge", "local")
LOCAL: Spec = ("intervention", "eq", "local")
ORAL: Spec = ("intervention", "eq", "oral")
IV: Spec = ("intervention", "eq", "iv")
MINIMAL_LOCAL_NONINVASIVE: Spec = ("intervention", "in", ("local", "oral"))
MEDICAL: Spec = ("intervention", "in", ("local", "oral", "iv"))
SYSTEMIC: Spec = ("intervention", "in", ("oral", "iv"))
NO_SYSTEMIC: Spec = ("intervention", "in", ("none", "local"))
MINIMALLY_INVASIVE: Spec = ("intervention", "eq", "minimally_invasive")
INVASIVE: Spec = ("intervention", "ge", "invasive")
ELECTIVE_INVASIVE: Spec = ("intervention", "eq", "invasive")
NOT_INVASIVE: Spec = ("intervention", "lt", "invasive")
NON_URGENT: Spec = ("intervention", "in", ("local", "oral", "iv", "minimally_invasive", "invasive"))
NON_OPERATIVE: Spec = ("intervention", "in", ("local", "oral", "iv", "minimally_invasive"))
URGENT: Spec = ("intervention", "eq", "urgent")


def _all(*specs: Spec) -> Spec:
    return ("all", specs)


def _any(*specs: Spec) -> Spec:
    return ("any", specs)


# Optional examples in parentheses, e.g. " (e.g., topical antibiotic, antifungal, or antiviral)";
# CTCAE sometimes forgets the closing parenthesis.
_EG = r"(?:,? \(e\.g\.,? [^)]*\)?)?"

# (pattern over the normalised clause, predicate). Patterns must match the whole clause; the first
# matching row wins, so specific compounds come before their parts where they could overlap.
_GENERIC_ROWS: tuple[tuple[str, Spec], ...] = (
    # Death and life-threatening consequences
    (r"death", DEATH),
    (rf"(?:adult and pediatric: )?life-threatening consequences{_EG}", LIFE_THREATENING),
    (
        r"life-threatening consequences and urgent intervention indicated",
        _all(LIFE_THREATENING, URGENT),
    ),
    # The comma lists alternatives here (Delirium grade 4).
    (
        r"life-threatening consequences, threats of harm to self or others",
        LIFE_THREATENING,
    ),
    (r"disabling|disability", DISABLING),
    # Urgent interventions
    (rf"urgent (?:operative |invasive |medical )?intervention indicated{_EG}", URGENT),
    (r"requiring urgent intervention", URGENT),
    (r"intubation or urgent intervention indicated", URGENT),
    (r"urgent intervention or intubation with ventilatory support indicated", URGENT),
    (r"urgent intervention, intubation, or ventilatory support indicated", URGENT),
    (r"symptomatic, urgent intervention indicated", _all(SYMPTOMATIC, URGENT)),
    (r"hospitalization or urgent intervention indicated", _any(HOSPITALIZATION, URGENT)),
    # Activities of daily living
    (rf"limiting self[ -]care adls?{_EG}", SELF_CARE_ADL),
    (r"limiting self care adl or sleep", SELF_CARE_ADL),
    (r"interferes with self care adl", SELF_CARE_ADL),
    (r"symptomatic limiting self care adl", _all(SYMPTOMATIC, SELF_CARE_ADL)),
    (r"limiting (?:age-appropriate )?instrumental adls?", INSTRUMENTAL_ADL),
    (r"interfering with instrumental adls?", INSTRUMENTAL_ADL),
    # No intervention / observation only
    (r"(?:physician )?intervention not indicated", NO_INTERVENTION),
    (r"no intervention indicated", NO_INTERVENTION),
    (rf"medical intervention not indicated{_EG}", NO_INTERVENTION),
    (r"systemic intervention not indicated", NO_SYSTEMIC),
    (r"(?:clinical or diagnostic )?observations? only", NO_INTERVENTION),
    # Symptoms (and, for pain terms, pain intensity)
    (r"asymptomatic(?: diagnostic finding)?", ASYMPTOMATIC),
    (r"asymptomatic,? (?:and )?intervention not indicated", _all(ASYMPTOMATIC, NO_INTERVENTION)),
    (
        r"asymptomatic (?:clinical or diagnostic|and radiologic) observations only",
        _all(ASYMPTOMATIC, NO_INTERVENTION),
    ),
    (rf"symptomatic{_EG}", SYMPTOMATIC),
    (r"symptomatic,? (?:and )?intervention not indicated", _all(SYMPTOMATIC, NO_INTERVENTION)),
    (r"symptomatic, intervention indicated", _all(SYMPTOMATIC, ANY_INTERVENTION)),
    (r"symptomatic, invasive intervention not indicated", _all(SYMPTOMATIC, NOT_INVASIVE)),
    (
        r"symptomatic, elective invasive intervention indicated",
        _all(SYMPTOMATIC, ELECTIVE_INVASIVE),
    ),
    (r"symptomatic but not limiting adl", _all(SYMPTOMATIC, NO_ADL_LIMIT)),
    # A spinal fracture's symptom is its back pain (Spinal fracture grades 1-3).
    (r"mild(?: symptoms| pain| back pain)?", MILD),
    (r"moderate(?: symptoms| pain| back pain)?", MODERATE),
    (r"severe(?: symptoms| pain| back pain)?", SEVERE),
    (r"asymptomatic or mild symptoms", MILD_AT_MOST),
    (r"severe or medically significant but not immediately life-threatening", SEVERE),
    (r"mild symptoms with no intervention indicated", _all(MILD, NO_INTERVENTION)),
    # "analgesics not indicated" is implied by no intervention at all (the sound direction).
    (r"mild pain but analgesics not indicated", _all(MILD, NO_INTERVENTION)),
    (
        r"moderate (?:symptoms|pain), (?:medical intervention|analgesics) indicated",
        _all(MODERATE, MEDICAL),
    ),
    (rf"severe symptoms, medical intervention indicated{_EG}", _all(SEVERE, MEDICAL)),
    (
        r"severe symptoms, medical intervention or hospitalization indicated",
        _all(SEVERE, _any(MEDICAL, HOSPITALIZATION)),
    ),
    # Medical, local, oral, intravenous interventions
    (rf"(?:non-urgent )?medical (?:intervention|management)(?: indicated)?{_EG}", MEDICAL),
    (r"medical intervention or hospitalization indicated", _any(MEDICAL, HOSPITALIZATION)),
    (rf"transfusion or medical intervention indicated{_EG}", _any(TRANSFUSION, MEDICAL)),
    (
        r"transfusion, iv medications, or hospitalization indicated",
        _any(TRANSFUSION, IV, HOSPITALIZATION),
    ),
    (rf"intervention (?:indicated|initiated){_EG}", ANY_INTERVENTION),
    (r"treatment indicated", ANY_INTERVENTION),
    # Medication, prescribed or not, is a medical intervention; which of the two it was is a
    # qualifier no fact records (Renal colic, Spinal fracture: grades 1 and 2).
    (
        r"(?:(?:non)?prescription )?(?:medication|analgesics) indicated"
        r"|nonprescription intervention indicated",
        MEDICAL,
    ),
    (r"elective intervention indicated", NON_URGENT),
    (r"non-operative intervention indicated", NON_OPERATIVE),
    (r"intervention initiated \(including over the counter medications\)", ANY_INTERVENTION),
    (r"non-urgent intervention indicated", NON_URGENT),
    (r"minimal, local or noninvasive intervention indicated", MINIMAL_LOCAL_NONINVASIVE),
    (rf"noninvasive intervention indicated{_EG}", MINIMAL_LOCAL_NONINVASIVE),
    (rf"(?:local|topical) intervention (?:indicated|initiated){_EG}", LOCAL),
    (r"local therapy indicated(?: \([^)]*\))?|topical analgesics initiated", LOCAL),
    (r"local symptomatic management|local wound care|bedside local care indicated", LOCAL),
    (rf"local care \(e\.g\., suturing\) or medical intervention indicated{_EG}", MEDICAL),
    (r"topical or oral intervention indicated", MINIMAL_LOCAL_NONINVASIVE),
    (rf"oral intervention indicated{_EG}", ORAL),
    (r"oral therapy initiated", ORAL),
    (r"systemic intervention(?: indicated)?", SYSTEMIC),
    # "intravenous" is the fact for IV, intravenous and parenteral clauses.
    (
        r"(?:iv|intravenous|parenteral) (?:antibiotic, antifungal, or antiviral |antifungal )?"
        r"intervention indicated",
        IV,
    ),
    (rf"iv intervention{_EG}", IV),
    (r"(?:iv antibiotics|intravenous therapy|iv fluids) indicated", IV),
    (r"steroids or iv fluids indicated", IV),
    (r"outpatient iv hydration", _all(IV, NO_HOSPITALIZATION)),
    # Minimally invasive aspiration / drainage
    (r"minimally invasive evacuation or aspiration indicated", MINIMALLY_INVASIVE),
    (r"(?:simple|needle) aspiration indicated(?: \(single or multiple\))?", MINIMALLY_INVASIVE),
    # Invasive (radiologic, endoscopic or operative) interventions; "invasive" satisfies
    # invasive and operative clauses, and urgent is above it.
    (rf"(?:invasive|operative) intervention indicated{_EG}", INVASIVE),
    (r"postoperative invasive intervention indicated", INVASIVE),
    (r"revision by operative intervention indicated", INVASIVE),
    # An invasive intervention on an injured vessel is its repair or revision.
    (r"repair or revision indicated", INVASIVE),
    # "A and/or B" holds when B does (Peripheral and Visceral arterial ischemia grade 3).
    (
        r"prolonged \(>=24 hrs\) or recurring symptoms and/or invasive intervention indicated",
        INVASIVE,
    ),
    (
        r"hospitalization or intervention indicated for pain control(?: \(e\.g\., [^)]*\))?",
        _any(HOSPITALIZATION, INVASIVE),
    ),
    (r"radiologic, endoscopic, or operative intervention indicated", INVASIVE),
    (rf"operative debridement or other invasive intervention indicated{_EG}", INVASIVE),
    (
        r"ventriculostomy, icp monitoring, intraventricular thrombolysis, or invasive intervention "
        r"indicated",
        INVASIVE,
    ),
    (r"sclerosis and/or operative intervention indicated", INVASIVE),
    (
        rf"(?:elective|non-emergent) (?:operative|invasive) intervention indicated{_EG}",
        ELECTIVE_INVASIVE,
    ),
    (
        r"elective operative intervention indicated requiring hospitalization",
        _all(ELECTIVE_INVASIVE, HOSPITALIZATION),
    ),
    (r"outpatient operative intervention indicated", _all(ELECTIVE_INVASIVE, NO_HOSPITALIZATION)),
    (
        rf"hospitalization or elective operative intervention indicated{_EG}",
        _any(HOSPITALIZATION, ELECTIVE_INVASIVE),
    ),
    (r"(?:invasive|operative) intervention not indicated", NOT_INVASIVE),
    # Hospitalisation and transfusion
    (
        r"hospitalization(?: indicated| or prolongation of existing hospitalization indicated"
        r"| indicated for clinical sequelae)?",
        HOSPITALIZATION,
    ),
    (r"hospitalization not indicated", NO_HOSPITALIZATION),
    # no intervention at all implies no catheter (Urinary retention grade 1)
    (r"urinary, suprapubic or intermittent catheter placement not indicated", NO_INTERVENTION),
    (
        r"(?:tube feeding, tpn,? or|tube feeding or|tpn or|oxygen therapy or) hospitalization "
        r"indicated",
        HOSPITALIZATION,
    ),
    (r"transfusion(?: indicated)?", TRANSFUSION),
)

GENERIC_CLAUSES: tuple[tuple[re.Pattern[str], Spec], ...] = tuple(
    (re.compile(pattern), spec) for pattern, spec in _GENERIC_ROWS
)

# A leading qualifier that no fact records, before a clause the facts do reach ("Localized, local
# intervention indicated"; Wound dehiscence "Incisional separation, intervention not indicated").
LEADING_QUALIFIER = re.compile(r"(?P<qualifier>localized|incisional separation), (?P<rest>.+)")

# --- Measurement clauses, parsed from the text ------------------------------------------------

_NUMBER = r"\d+(?:\.\d+)?"
_BOUND = rf"(?P<op{{n}}>[<>]=?)?\s*(?P<value{{n}}>lln|{_NUMBER})"
_RANGE = rf"{_BOUND.format(n=1)}(?:\s*-\s*{_BOUND.format(n=2)})?"
_TEMPERATURE = re.compile(
    rf"{_RANGE} degrees c(?: \([^)]*degrees f\))?"
    rf"(?: for (?P<hours_op>[<>]=?)\s*(?P<hours>{_NUMBER}) hrs)?"
)
_HEMOGLOBIN = re.compile(rf"(?:hemoglobin \(hgb\)|hgb) {_RANGE} g/dl")
_TRANSFUSION_AT_LEAST = re.compile(
    r"transfusion indicated of >=\s*(?P<units>\d+) units(?: \([^)]*\))? prbcs"
)
_TRANSFUSION_BELOW = re.compile(
    r"moderate bleeding requiring transfusion <\s*(?P<units>\d+) units(?: \([^)]*\))? of prbcs"
)
# The same threshold in other units: mmol/L or g/L beside a g/dL haemoglobin clause, degrees F
# beside a degrees C clause (Hypothermia writes "82.4 degrees F" without its "<=").
_ALTERNATIVE_UNITS = re.compile(
    rf"(?:[<>]=?\s*)?(?:lln|{_NUMBER})(?:\s*-\s*(?:[<>]=?\s*)?{_NUMBER})?\s*"
    r"(?P<unit>mmol/l|g/l|degrees f)"
)
_ALTERNATIVE_FOR = {
    "mmol/l": "hemoglobin_g_dl",
    "g/l": "hemoglobin_g_dl",
    "degrees f": "temperature_c",
}

# Operator of a range's lower / upper end; an end written without one is inclusive.
_LOW_END = {">": "gt", ">=": "ge", None: "ge"}
_HIGH_END = {"<": "lt", "<=": "le", None: "le"}
_SINGLE = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge"}


def _bound_value(text: str) -> float | str:
    return "LLN" if text == "lln" else float(text)


def _range_spec(fact: str, match: re.Match[str]) -> Spec | None:
    """Turn "<10.0 - 8.0", ">39.0 - 40.0", "35 - >32", "<LLN - 10.0" or "<8.0" into a predicate.

    An operator belongs to the bound it precedes; a bound without one is inclusive. The first
    bound's operator says which end it is ("<10.0 - 8.0" reads "below 10.0, down to 8.0").
    """
    op1, op2 = match.group("op1"), match.group("op2")
    first = _bound_value(match.group("value1"))
    if match.group("value2") is None:
        if op1 is None:
            return None
        return (fact, _SINGLE[op1], first)
    second = _bound_value(match.group("value2"))
    if op1 in ("<", "<=") or (op1 is None and op2 in (">", ">=")):
        (high, high_op), (low, low_op) = (first, op1), (second, op2)
    elif op1 in (">", ">=") or (op1 is None and op2 in ("<", "<=")):
        (low, low_op), (high, high_op) = (first, op1), (second, op2)
    elif isinstance(first, float) and isinstance(second, float):
        (low, low_op), (high, high_op) = sorted([(first, op1), (second, op2)], key=lambda b: b[0])
    else:
        return None
    if low_op not in _LOW_END or high_op not in _HIGH_END:
        return None
    if isinstance(low, float) and isinstance(high, float) and not low < high:
        return None
    return _all((fact, _LOW_END[low_op], low), (fact, _HIGH_END[high_op], high))


def _measurement_spec(normalised: str) -> Spec | None:
    """The predicate of a temperature, haemoglobin or transfused-units clause, if it is one."""
    if match := _TEMPERATURE.fullmatch(normalised):
        spec = _range_spec("temperature_c", match)
        if spec is None or match.group("hours") is None:
            return spec
        hours = ("fever_hours", _SINGLE[match.group("hours_op")], float(match.group("hours")))
        return _all(spec, hours)
    if match := _HEMOGLOBIN.fullmatch(normalised):
        return _range_spec("hemoglobin_g_dl", match)
    if match := _TRANSFUSION_AT_LEAST.fullmatch(normalised):
        return ("transfusion_units", "ge", int(match.group("units")))
    if match := _TRANSFUSION_BELOW.fullmatch(normalised):
        return _all(TRANSFUSION, ("transfusion_units", "lt", int(match.group("units"))))
    return None


@lru_cache(maxsize=4096)
def _generic_spec(normalised: str) -> Spec | None:
    for pattern, spec in GENERIC_CLAUSES:
        if pattern.fullmatch(normalised):
            return spec
    return None


def _qualified_spec(clause: str) -> tuple[Spec, str] | None:
    match = LEADING_QUALIFIER.fullmatch(normalise_clause(clause))
    if match is None or (spec := _generic_spec(match.group("rest"))) is None:
        return None
    return spec, " ".join(clause.split())[: len(match.group("qualifier"))]


def _compile_grade(grade: int, clauses: Sequence[str]) -> tuple[CompiledClause, ...]:
    compiled: list[CompiledClause] = []
    primaries: dict[str, str] = {}  # fact -> clause text, for unit alternatives
    for clause in clauses:
        normalised = normalise_clause(clause)
        if (spec := _measurement_spec(normalised)) is not None:
            compiled.append(CompiledClause(grade, clause, "measurement", spec))
            for fact in _facts_in(spec):
                primaries.setdefault(fact, clause)
        elif (spec := _generic_spec(normalised)) is not None:
            compiled.append(CompiledClause(grade, clause, "generic", spec))
        elif (qualified := _qualified_spec(clause)) is not None:
            spec, qualifier = qualified
            compiled.append(CompiledClause(grade, clause, "generic", spec, qualifier=qualifier))
        else:
            compiled.append(CompiledClause(grade, clause, "checklist", None))
    for index, item in enumerate(compiled):
        if item.kind != "checklist":
            continue
        match = _ALTERNATIVE_UNITS.fullmatch(normalise_clause(item.text))
        primary = match and primaries.get(_ALTERNATIVE_FOR[match.group("unit")])
        if primary:
            compiled[index] = CompiledClause(grade, item.text, "measurement", None, primary)
    return tuple(compiled)


def _term_key(term: Term) -> tuple[Any, ...]:
    return (term.code, term.name, tuple(sorted(term.grades.items())))


# Every generic fact at its "nothing happened" value; measurements stay unknown.
_NOTHING_HAPPENED = Facts(
    symptoms="none",
    intervention="none",
    transfusion_units=0,
    hospitalization=False,
    adl="none",
    disabling=False,
    life_threatening=False,
    death=False,
)


def _holds_when_nothing_happened(spec: Spec) -> bool:
    return _evaluate(spec, _NOTHING_HAPPENED, HEMOGLOBIN_LLN_G_DL[None]) is True


@lru_cache(maxsize=2048)
def _compile_cached(key: tuple[Any, ...]) -> tuple[CompiledClause, ...]:
    grades: dict[int, str | None] = dict(key[2])
    compiled: list[CompiledClause] = []
    for grade in GRADES:
        text = grades.get(grade)
        if text is not None:
            compiled.extend(_compile_grade(grade, [c.strip() for c in text.split(";")]))
    if not compiled:
        return ()
    # Reading the semicolon as "or" is CTCAE's convention, but two kinds of clause only qualify
    # their neighbours, and reading them alone would overgrade:
    # - a clause repeated later in the same term cannot distinguish its grade (Muscle weakness
    #   lower limb: "Symptomatic" at grades 1 and 2); it counts where it first appears;
    # - a clause that holds when nothing happened ("hospitalization not indicated", "asymptomatic")
    #   cannot lift an event above the term's lowest grade ("Severe agitation; hospitalization
    #   not indicated" would make every unhospitalised agitation grade 3); it is left to the
    #   checklist there.
    # - a clause whose facts already decide a lower grade differs from that grade's clause only by
    #   a qualifier no fact records ("Non-urgent"); the facts give the lower grade and the
    #   higher clause is left to the checklist (docs/domain.md, "Grading conventions").
    lowest = min(item.grade for item in compiled)
    first_grade: dict[str, int] = {}
    reached: dict[Spec, CompiledClause] = {}
    result: list[CompiledClause] = []
    for item in compiled:
        key = normalise_clause(item.text)
        if key and key in first_grade:
            result.append(
                CompiledClause(item.grade, item.text, "repeated", None, repeat_of=first_grade[key])
            )
            continue
        first_grade[key] = item.grade
        if item.spec is None:
            result.append(item)
        elif item.grade > lowest and _holds_when_nothing_happened(item.spec):
            result.append(CompiledClause(item.grade, item.text, "checklist", None))
        elif (lower := reached.get(item.spec)) is not None and lower.grade < item.grade:
            result.append(
                CompiledClause(
                    item.grade,
                    item.text,
                    "qualified",
                    None,
                    repeat_of=lower.grade,
                    qualifier=_difference(lower.text, item.text),
                    same_facts_as=lower.text,
                )
            )
        else:
            reached.setdefault(item.spec, item)
            result.append(item)
    return tuple(_narrowed(result))


# Values to try when comparing two predicates; measurements are left out (never compared).
_DOMAINS: dict[str, tuple[Any, ...]] = {
    **ORDINAL_SCALES,
    **dict.fromkeys(("hospitalization", "disabling", "life_threatening", "death"), (False, True)),
    "transfusion_units": (0, 1, 2, 3, 4),
}


@lru_cache(maxsize=8192)
def _implies(first: Spec, second: Spec) -> bool:
    """Whether every recorded combination of facts that makes ``first`` hold makes ``second``."""
    names = list(dict.fromkeys(_facts_in(first) + _facts_in(second)))
    if any(name not in _DOMAINS for name in names):
        return False
    for values in itertools.product(*(_DOMAINS[name] for name in names)):
        facts = Facts(**dict(zip(names, values, strict=True)))
        if _evaluate(first, facts, 0.0) and not _evaluate(second, facts, 0.0):
            return False
    return True


def _narrowed(compiled: list[CompiledClause]) -> list[CompiledClause]:
    """Keep a higher grade's clause from swallowing a lower grade's more precise one.

    Bronchospasm writes "Mild symptoms" at grade 1 and "Symptomatic" at grade 2: read alone,
    "Symptomatic" would grade every mild bronchospasm 2 and grade 1 could never be reached. A
    higher clause that holds whenever a lower grade's clause does is therefore read as "and not
    that lower clause"; an alternative of a higher clause that merely restates a lower clause
    (Hypoparathyroidism grade 3 "medical intervention or hospitalization indicated" beside grade 2
    "medical intervention indicated") is dropped from it. Facts still reach the higher grade by
    what sets it apart (moderate symptoms; hospitalisation).
    """
    lower: list[CompiledClause] = []
    result: list[CompiledClause] = []
    for item in compiled:
        spec = item.spec
        if spec is not None and item.kind == "generic":
            for other in lower:
                if other.grade >= item.grade or other.spec is None:
                    continue
                if spec[0] == "any":
                    kept = tuple(part for part in spec[1] if not _implies(part, other.spec))
                    if kept and len(kept) < len(spec[1]):
                        spec = kept[0] if len(kept) == 1 else _any(*kept)
                if _implies(other.spec, spec):
                    spec = _all(spec, ("not", other.spec))
            if spec != item.spec:
                item = dataclasses.replace(item, spec=spec)
        if item.kind in ("generic", "measurement") and item.spec is not None:
            lower.append(item)
        result.append(item)
    return result


def _difference(lower: str, higher: str) -> str:
    """The words that tell two clauses apart, as written: "Non-urgent" for Hypotension."""
    lower_words, higher_words = lower.split(), higher.split()
    folded_lower = {word.casefold() for word in lower_words}
    folded_higher = {word.casefold() for word in higher_words}
    only_lower = " ".join(word for word in lower_words if word.casefold() not in folded_higher)
    only_higher = " ".join(word for word in higher_words if word.casefold() not in folded_lower)
    return " / ".join(part for part in (only_lower, only_higher) if part)


def compile_term(term: Term) -> tuple[CompiledClause, ...]:
    """Every clause of the term, grades ascending, with its kind and predicate."""
    return _compile_cached(_term_key(term))


def clause_kind(clause: str, *, siblings: Iterable[str] = ()) -> ClauseKind:
    """Whether the facts reach a clause ("generic" or "measurement") or only the checklist does.

    ``siblings`` are the other clauses of the same grade: a threshold in other units
    ("<LLN - 6.2 mmol/L") is a measurement only beside its g/dL or degrees C original. The
    clause is judged on its own; `compile_term` also weighs its place in the term (a clause that
    holds when nothing happened is left to the checklist above the term's lowest grade).
    """
    others = [text for text in siblings if text != clause]
    kind = _compile_grade(1, [clause, *others])[0].kind
    if kind == "repeated" or kind == "qualified":
        # Repeats and qualified clauses are only found across a whole term.
        raise AssertionError(f"a clause alone cannot be {kind}")
    return kind


def checklist(term: Term) -> dict[int, list[str]]:
    """Per grade, the term's checklist for the clinician: the clauses no recorded fact can reach,
    and those the facts reach only by assuming a qualifier no fact records ("Localized, ...")."""
    result: dict[int, list[str]] = {}
    for item in compile_term(term):
        offered = item.kind in ("checklist", "qualified") or item.qualifier is not None
        if offered and normalise_clause(item.text):
            result.setdefault(item.grade, []).append(item.text)
    return result


MAJOR_GRADE = 3  # the lowest major grade


def severity_for(grade: int) -> str:
    """CTCAE grades 1-2 are minor, 3-5 major (domain rule, as in the reference study)."""
    if grade in (1, 2):
        return "minor"
    if grade in (MAJOR_GRADE, 4, 5):
        return "major"
    raise ValueError(f"CTCAE grades run from 1 to 5, not {grade!r}.")


# --- Evaluation -------------------------------------------------------------------------------


def _facts_in(spec: Spec) -> list[str]:
    """Fact names a predicate reads, in order, without repeats."""
    if spec[0] == "not":
        return _facts_in(spec[1])
    if spec[0] in ("all", "any"):
        names: list[str] = []
        for part in spec[1]:
            names.extend(name for name in _facts_in(part) if name not in names)
        return names
    return [spec[0]]


def _resolve(value: Any, lln: float) -> Any:
    return lln if value == "LLN" else value


def _evaluate(spec: Spec, facts: Facts, lln: float, *, peak: bool = False) -> bool | None:
    """Kleene three-valued logic: None when the answer depends on a fact that was not recorded.

    With ``peak``, an ordinal fact is read as the worst level reached, so any level from the
    first one above "none" up to it may also have held: an intravenous intervention does not
    deny that an oral one was indicated, but it denies "intervention not indicated".
    """
    head = spec[0]
    if head == "not":
        inner = _evaluate(spec[1], facts, lln, peak=peak)
        return None if inner is None else not inner
    if head in ("all", "any"):
        results = [_evaluate(part, facts, lln, peak=peak) for part in spec[1]]
        decisive = head == "any"  # True decides "any", False decides "all"
        if decisive in results:
            return decisive
        if None in results:
            return None
        return not decisive
    fact, op, expected = spec
    actual = getattr(facts, fact)
    if actual is None:
        return None
    scale = ORDINAL_SCALES.get(fact)
    if peak and scale is not None:
        reached = scale[1 : scale.index(actual) + 1] or scale[:1]
        return any(_compare(fact, op, level, expected, lln) for level in reached)
    return _compare(fact, op, actual, expected, lln)


def _compare(fact: str, op: str, actual: Any, expected: Any, lln: float) -> bool:
    if op == "is":
        return actual is expected
    if op == "in":
        return actual in expected
    scale = ORDINAL_SCALES.get(fact)
    if scale is not None:
        actual, expected = scale.index(actual), scale.index(expected)
    else:
        expected = _resolve(expected, lln)
    if op == "eq":
        return actual == expected
    if op == "ge":
        return actual >= expected
    if op == "gt":
        return actual > expected
    if op == "le":
        return actual <= expected
    if op == "lt":
        return actual < expected
    raise ValueError(f"Unknown operator {op!r} for {fact}.")


def _describe_facts(spec: Spec, facts: Facts, lln: float, sex: str | None) -> FactValues:
    """The recorded facts a clause reads (an "or" clause may hold with some left blank)."""
    items = tuple(
        (name, getattr(facts, name)) for name in _facts_in(spec) if getattr(facts, name) is not None
    )
    return FactValues(items, (lln, sex) if _mentions_lln(spec) else None)


def _mentions_lln(spec: Spec) -> bool:
    if spec[0] == "not":
        return _mentions_lln(spec[1])
    if spec[0] in ("all", "any"):
        return any(_mentions_lln(part) for part in spec[1])
    return spec[2] == "LLN"


def _grades_phrase(grades: Sequence[int]) -> str:
    return ", ".join(str(grade) for grade in grades)


def _term_summary(term: Term) -> str:
    return " | ".join(f"grade {grade}: {term.grades[grade]}" for grade in term.grades_available)


def grade(term: Term, facts: Facts, *, sex: str | None = None) -> GradeResult:
    """The highest grade of ``term`` that the facts support, with the clauses that decided it.

    ``sex`` ("female", "male" or None) sets the haemoglobin lower limit of normal.
    Raises `GradingError` when nothing fits, or when the facts point beyond the term's grades.
    """
    if sex not in HEMOGLOBIN_LLN_G_DL:
        raise ValueError(f"sex must be 'female', 'male' or None, not {sex!r}.")
    lln = HEMOGLOBIN_LLN_G_DL[sex]
    available = term.grades_available
    grades = _grades_phrase(available)
    compiled = compile_term(term)
    ticked = {key for text in facts.criteria if (key := normalise_clause(text))}

    matched: list[Match] = []
    explanations: dict[tuple[int, str], Message] = {}
    used_facts: set[str] = set()
    used_lln = False
    hints: list[Message] = []
    deciding_facts: set[str] = set()  # facts read by the clauses that hold
    for item in compiled:
        if item.spec is not None:
            used_facts.update(_facts_in(item.spec))
            result = _evaluate(item.spec, facts, lln)
            if result:
                matched.append(Match(item.grade, item.text, item.kind))  # type: ignore[arg-type]
                described = _describe_facts(item.spec, facts, lln, sex)
                explanations[(item.grade, item.text)] = (
                    Message.of(
                        "clause_assuming",
                        clause=item.text,
                        facts=described,
                        qualifier=item.qualifier,
                    )
                    if item.qualifier
                    else Message.of("clause_by_facts", clause=item.text, facts=described)
                )
                used_lln = used_lln or _mentions_lln(item.spec)
                deciding_facts.update(_facts_in(item.spec))
                continue
            if result is None:
                hints.extend(_missing_fact_hint(item, facts))
        if item.kind != "repeated" and normalise_clause(item.text) in ticked:
            matched.append(Match(item.grade, item.text, "criteria"))
            explanations[(item.grade, item.text)] = Message.of("clause_ticked", clause=item.text)

    _refuse_contradicted_ticks(facts, compiled, ticked, lln, sex, available)
    warnings = _warnings(term, facts, compiled, used_facts)
    if used_lln and sex is None:
        warnings.append(Message.of("lln_assumed", lln=f"{lln:.1f}"))

    if facts.death and 5 not in available:
        raise GradingError(
            [Message.of("death_without_grade_5", term=term.name, grades=grades)],
            grades_available=available,
            reason="beyond_term",
        )
    # Life-threatening facts point at grade 4; on a term without it they are refused unless one
    # of the term's own clauses takes them (Methemoglobinemia grade 3: "Requiring urgent
    # intervention") or the event reached grade 5: a death is often preceded by a
    # life-threatening state and an urgent intervention, and Death NOS has no grade 4 to hold them.
    reached_death = any(match.grade == 5 for match in matched)
    for key, points_at_grade_4, name in (
        ("life_threatening_without_grade_4", facts.life_threatening is True, "life_threatening"),
        ("urgent_without_grade_4", facts.intervention == "urgent", "intervention"),
    ):
        if (
            points_at_grade_4
            and 4 not in available
            and name not in deciding_facts
            and not reached_death
        ):
            raise GradingError(
                [Message.of(key, term=term.name, grades=grades)],
                grades_available=available,
                reason="beyond_term",
            )

    if not matched:
        refusal = Message.of("no_match", term=term.name, grades=grades, summary=_term_summary(term))
        raise GradingError(
            [refusal, *dict.fromkeys(hints)], grades_available=available, reason="no_match"
        )

    decided = max(match.grade for match in matched)
    decisive = [match for match in matched if match.grade == decided]
    explanation = (
        Message.of(
            "rationale",
            grade=decided,
            clauses=Joined(tuple(explanations[(m.grade, m.clause)] for m in decisive)),
        ),
        *_qualified_notes(compiled, matched, ticked, decided),
    )
    ordered = tuple(sorted(matched, key=lambda match: -match.grade))
    return GradeResult(
        grade=decided,
        severity=severity_for(decided),
        rationale=render_all(explanation, sep=". "),
        matched=ordered,
        grades_available=available,
        warnings=tuple(str(message) for message in warnings),
        explanation=explanation,
        warning_messages=tuple(warnings),
    )


def _qualified_notes(
    compiled: Sequence[CompiledClause], matched: Sequence[Match], ticked: set[str], decided: int
) -> list[Message]:
    """Name the higher clause that the same facts would reach but for a qualifier."""
    by_facts = {(m.grade, m.clause) for m in matched if m.source != "criteria"}
    return [
        Message.of("qualified_note", grade=item.grade, clause=item.text, qualifier=item.qualifier)
        for item in compiled
        if item.kind == "qualified"
        and item.grade > decided
        and (item.repeat_of, item.same_facts_as) in by_facts
        and normalise_clause(item.text) not in ticked
    ]


def _condition(item: CompiledClause, compiled: Sequence[CompiledClause]) -> Spec | None:
    """What the clause says in terms of facts, read from its text alone.

    A clause left to the checklist because of its place in the term still states facts, one
    narrowed beside a lower grade's clause (see `_narrowed`) still says what its text says, and
    a threshold restated in other units states its primary clause's.
    """
    if item.alternative_of is not None:
        for other in compiled:
            if other.grade == item.grade and other.text == item.alternative_of:
                return _condition(other, compiled)
        return None
    normalised = normalise_clause(item.text)
    spec = _measurement_spec(normalised) or _generic_spec(normalised)
    if spec is None and (qualified := _qualified_spec(item.text)) is not None:
        spec = qualified[0]
    return spec


def _refuse_contradicted_ticks(
    facts: Facts,
    compiled: Sequence[CompiledClause],
    ticked: set[str],
    lln: float,
    sex: str | None,
    available: tuple[int, ...],
) -> None:
    """A ticked clause the recorded facts deny is a contradiction, not a grade.

    Reading the tick alone would let "Death" grade 5 beside ``death: false``; reading the facts
    alone would silently drop what the clinician ticked. Ordinal facts are read as the worst
    level reached (see `_evaluate`), measurements and yes/no facts as recorded.
    """
    problems: list[Message] = []
    for item in compiled:
        if item.kind == "repeated" or normalise_clause(item.text) not in ticked:
            continue
        condition = _condition(item, compiled)
        if condition is None or _evaluate(condition, facts, lln, peak=True) is not False:
            continue
        described = _describe_facts(condition, facts, lln, sex)
        problems.append(
            Message.of("contradiction", clause=item.text, grade=item.grade, facts=described)
        )
    if problems:
        raise GradingError(
            [*problems, Message.of("contradiction_advice")],
            grades_available=available,
            reason="contradiction",
        )


def _missing_fact_hint(item: CompiledClause, facts: Facts) -> list[Message]:
    """When a clause is undecided only for want of a fact, say which fact would decide it."""
    assert item.spec is not None
    names = _facts_in(item.spec)
    missing = tuple(name for name in names if getattr(facts, name) is None)
    present = [name for name in names if getattr(facts, name) is not None]
    if not present or not missing:
        return []
    return [
        Message.of("missing_fact", grade=item.grade, clause=item.text, facts=FactNames(missing))
    ]


def _warnings(
    term: Term,
    facts: Facts,
    compiled: Sequence[CompiledClause],
    used_facts: set[str],
) -> list[Message]:
    """Facts that cannot influence this term's grade, so the clinician can spot a wrong term.

    Only affirmative facts are reported: "no" and "none" are statements of absence and harmless.
    """
    warnings: list[Message] = []
    for name, value in facts.recorded().items():
        if name in used_facts or value is False or value == "none" or value == 0:
            continue
        warnings.append(Message.of("unused_fact", term=term.name, fact=FactNames((name,))))
    known = {normalise_clause(item.text) for item in compiled}
    for text in facts.criteria:
        if normalise_clause(text) not in known:
            warnings.append(Message.of("unknown_criterion", clause=text, term=term.name))
    return warnings
