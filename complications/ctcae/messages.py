"""What the grading tells the clinician, as structured messages rendered in any language.

The pure core may not call gettext, yet its rationales, warnings and refusals must read in the
interface's language. So it returns `Message` objects (a key and its parameters) and renders
them with a ``translate`` function: the identity gives the English text kept in the record, and
the Django side passes gettext (``complications.grading_text``), which looks each English
template and label up in the catalogue. Facts are named as the entry form names them
("intervention: intravenous"), never by their API keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

Translate = Callable[[str], str]

TEMPLATES: dict[str, str] = {
    "rationale": "Grade %(grade)s: %(clauses)s",
    "clause_by_facts": '"%(clause)s" (%(facts)s)',
    "clause_assuming": '"%(clause)s" (%(facts)s; assuming "%(qualifier)s", which no fact records)',
    "clause_ticked": '"%(clause)s" (ticked in the checklist)',
    "qualified_note": (
        'Grade %(grade)s "%(clause)s" reads the same facts and differs only by "%(qualifier)s": '
        "tick it in the checklist if it applies"
    ),
    "fact_value": "%(fact)s: %(value)s",
    "lln": "haemoglobin lower limit of normal %(lln)s g/dL for %(sex)s",
    "unused_fact": "No clause of %(term)s uses the recorded %(fact)s.",
    "unknown_criterion": '"%(clause)s" is not a clause of %(term)s; it was ignored.',
    "lln_assumed": (
        "Sex unknown: the haemoglobin lower limit of normal was taken as %(lln)s g/dL."
    ),
    "death_without_grade_5": (
        "The facts record death, but %(term)s has no grade 5; it has grades %(grades)s. "
        "Record the death under a term that has grade 5 (e.g. Death NOS)."
    ),
    "life_threatening_without_grade_4": (
        "The facts record life-threatening consequences, but %(term)s has no grade 4; it has "
        "grades %(grades)s. Choose a term whose grades reach the event, or correct the facts."
    ),
    "urgent_without_grade_4": (
        "The facts record an urgent intervention, but %(term)s has no grade 4; it has grades "
        "%(grades)s. Choose a term whose grades reach the event, or correct the facts."
    ),
    "no_match": "Facts fit no grade of %(term)s; it has grades %(grades)s: %(summary)s.",
    "missing_fact": 'Grade %(grade)s "%(clause)s" also needs %(facts)s.',
    "contradiction": (
        'The ticked clause "%(clause)s" (grade %(grade)s) contradicts the recorded facts '
        "(%(facts)s)."
    ),
    "contradiction_advice": "Untick the clause or correct the facts.",
}

FACT_LABELS: dict[str, str] = {
    "symptoms": "symptoms",
    "intervention": "intervention",
    "transfusion_units": "red cell units transfused",
    "hospitalization": "hospitalisation",
    "adl": "ADL limitation",
    "disabling": "disabling",
    "life_threatening": "life-threatening consequences",
    "death": "death",
    "temperature_c": "temperature",
    "fever_hours": "fever duration",
    "hemoglobin_g_dl": "haemoglobin",
}

VALUE_LABELS: dict[str, dict[str, str]] = {
    "symptoms": {"none": "none", "mild": "mild", "moderate": "moderate", "severe": "severe"},
    "intervention": {
        "none": "none",
        "local": "local",
        "oral": "oral",
        "iv": "intravenous",
        "minimally_invasive": "minimally invasive",
        "invasive": "invasive",
        "urgent": "urgent",
    },
    "adl": {"none": "none", "instrumental": "instrumental", "self_care": "self-care"},
}
YES_NO: dict[bool, str] = {True: "yes", False: "no"}
SEX_LABELS: dict[str | None, str] = {"female": "women", "male": "men", None: "unknown sex"}
UNITS: dict[str, str] = {"temperature_c": "°C", "fever_hours": "h", "hemoglobin_g_dl": "g/dL"}


def english_texts() -> list[str]:
    """Every English text the renderer may look up: what the translation catalogue must hold."""
    texts = [*TEMPLATES.values(), *FACT_LABELS.values(), *YES_NO.values()]
    texts += [label for labels in VALUE_LABELS.values() for label in labels.values()]
    texts += list(SEX_LABELS.values())
    return list(dict.fromkeys(texts))


@dataclass(frozen=True)
class FactValues:
    """Recorded facts to show as "label: value", in order."""

    items: tuple[tuple[str, Any], ...]
    lln: tuple[float, str | None] | None = None  # (g/dL, sex) when a clause compared with LLN


@dataclass(frozen=True)
class FactNames:
    """Facts named without a value ("also needs symptoms, ADL limitation")."""

    names: tuple[str, ...]


@dataclass(frozen=True)
class Joined:
    """Messages shown one after the other."""

    items: tuple[Message, ...]
    separator: str = "; "


@dataclass(frozen=True)
class Message:
    """One thing to tell the clinician: a key of `TEMPLATES` and its parameters."""

    key: str
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, key: str, **params: Any) -> Message:
        if key not in TEMPLATES:
            raise KeyError(f"No message template {key!r}.")
        return cls(key, tuple(params.items()))

    def render(self, translate: Translate | None = None) -> str:
        return render(self, translate)

    def __str__(self) -> str:
        return render(self)


def _same(text: str) -> str:
    return text


def render(message: Message, translate: Translate | None = None) -> str:
    """The message in the language of ``translate`` (English without one)."""
    tr = translate or _same
    values = {name: _render_value(value, tr) for name, value in message.params}
    return tr(TEMPLATES[message.key]) % values


def render_all(messages: Iterable[Message], translate: Translate | None = None, *, sep: str) -> str:
    return sep.join(render(message, translate) for message in messages)


def _render_value(value: Any, tr: Translate) -> str:
    if isinstance(value, Message):
        return render(value, tr)
    if isinstance(value, Joined):
        return value.separator.join(render(item, tr) for item in value.items)
    if isinstance(value, FactValues):
        parts = [
            tr(TEMPLATES["fact_value"])
            % {"fact": tr(FACT_LABELS[name]), "value": _fact_value(name, fact, tr)}
            for name, fact in value.items
        ]
        if value.lln is not None:
            lln, sex = value.lln
            parts.append(tr(TEMPLATES["lln"]) % {"lln": f"{lln:.1f}", "sex": tr(SEX_LABELS[sex])})
        return ", ".join(parts)
    if isinstance(value, FactNames):
        return ", ".join(tr(FACT_LABELS[name]) for name in value.names)
    if isinstance(value, tuple):
        return ", ".join(str(item) for item in value)
    return str(value)


def _fact_value(name: str, value: Any, tr: Translate) -> str:
    if isinstance(value, bool):
        return tr(YES_NO[value])
    if name in VALUE_LABELS:
        return tr(VALUE_LABELS[name][value])
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    unit = UNITS.get(name)
    return f"{shown} {unit}" if unit else shown
