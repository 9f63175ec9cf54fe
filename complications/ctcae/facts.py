"""The clinical facts a clinician records for a complication, and their strict validation.

The registry grades from facts (what was done, what happened), not from a typed number. The keys
and values are the REST contract's ``facts`` object; an unknown key or value must be refused, not
ignored, because a typo ("hospitalisation") would otherwise silently lower a grade.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from .catalogue import Term, iter_clauses

# Ordered scales, least to most: grading compares positions in these tuples.
SYMPTOMS: tuple[str, ...] = ("none", "mild", "moderate", "severe")
INTERVENTIONS: tuple[str, ...] = (
    "none",
    "local",
    "oral",
    "iv",
    "minimally_invasive",
    "invasive",
    "urgent",
)
ADL: tuple[str, ...] = ("none", "instrumental", "self_care")

ORDINAL_SCALES: dict[str, tuple[str, ...]] = {
    "symptoms": SYMPTOMS,
    "intervention": INTERVENTIONS,
    "adl": ADL,
}
BOOLEAN_FACTS: tuple[str, ...] = ("hospitalization", "disabling", "life_threatening", "death")
COUNT_FACTS: tuple[str, ...] = ("transfusion_units",)

# Plausibility limits for measurements. A value outside is a typing slip (37.5 typed as 375,
# haemoglobin typed in g/L), never a patient: refusing it beats grading it.
MEASUREMENT_LIMITS: dict[str, tuple[float, float, str]] = {
    "temperature_c": (10.0, 46.0, "degrees C"),
    "fever_hours": (0.0, 24.0 * 365, "hours"),
    "hemoglobin_g_dl": (0.0, 30.0, "g/dL"),
}


class FactsError(ValueError):
    """Invalid facts; ``errors`` maps each offending fact name to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        summary = "; ".join(f"{key}: {' '.join(messages)}" for key, messages in errors.items())
        super().__init__(f"Invalid facts: {summary}")


@dataclass(frozen=True)
class Facts:
    """Recorded facts; None means "not recorded", which is not the same as "no" or "none"."""

    symptoms: str | None = None
    intervention: str | None = None
    transfusion_units: int | None = None
    hospitalization: bool | None = None
    adl: str | None = None
    disabling: bool | None = None
    life_threatening: bool | None = None
    death: bool | None = None
    temperature_c: float | None = None
    fever_hours: float | None = None
    hemoglobin_g_dl: float | None = None
    criteria: tuple[str, ...] = ()

    def recorded(self) -> dict[str, Any]:
        """The facts that were recorded (not None), criteria excluded."""
        return {
            item.name: getattr(self, item.name)
            for item in fields(self)
            if item.name != "criteria" and getattr(self, item.name) is not None
        }

    def as_dict(self) -> dict[str, Any]:
        """The contract's JSON shape: recorded keys only, criteria as a list when present."""
        data = self.recorded()
        if self.criteria:
            data["criteria"] = list(self.criteria)
        return data


FACT_NAMES: tuple[str, ...] = tuple(item.name for item in fields(Facts))


def normalise_clause(text: str) -> str:
    """Canonical form for comparing clause texts: lower-case, single spaces, no trailing period."""
    return " ".join(text.split()).lower().rstrip(".").rstrip()


def parse_facts(data: Mapping[str, Any], term: Term | None = None) -> Facts:
    """Validate a ``facts`` object (decoded JSON) into `Facts`, collecting every error.

    A null value is "not recorded", like an absent key. With a term, each criteria item must be
    one of that term's clauses (compared with `normalise_clause`) and is stored as CTCAE writes it.
    """
    if not isinstance(data, Mapping):
        raise FactsError({"non_field_errors": ["Facts must be an object of named facts."]})
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in FACT_NAMES:
            errors.setdefault(str(key), []).append(
                f"Unknown fact. Known facts: {', '.join(FACT_NAMES)}."
            )
            continue
        if value is None:
            continue
        try:
            values[key] = _parse_one(key, value, term)
        except _Invalid as invalid:
            errors[key] = invalid.messages
    if errors:
        raise FactsError(errors)
    return Facts(**values)


class _Invalid(Exception):
    def __init__(self, *messages: str) -> None:
        self.messages = list(messages)


def _parse_one(key: str, value: Any, term: Term | None) -> Any:
    if key in ORDINAL_SCALES:
        allowed = ORDINAL_SCALES[key]
        if not isinstance(value, str) or value not in allowed:
            raise _Invalid(f"{value!r} is not one of {', '.join(allowed)}.")
        return value
    if key in BOOLEAN_FACTS:
        if not isinstance(value, bool):
            raise _Invalid("Must be true or false.")
        return value
    if key in COUNT_FACTS:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid("Must be a whole number.")
        if value < 0:
            raise _Invalid("Must be 0 or more.")
        return value
    if key in MEASUREMENT_LIMITS:
        return _parse_measurement(key, value)
    return _parse_criteria(value, term)


def _parse_measurement(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid("Must be a number.")
    number = float(value)
    if not math.isfinite(number):
        raise _Invalid("Must be a finite number.")
    low, high, unit = MEASUREMENT_LIMITS[key]
    if not low <= number <= high:
        raise _Invalid(f"Must be between {low:g} and {high:g} {unit}.")
    return number


def _parse_criteria(value: Any, term: Term | None) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise _Invalid("Must be a list of clause texts.")
    messages: list[str] = []
    known: dict[str, str] = {}
    if term is not None:
        for _grade, clause in iter_clauses(term):
            known.setdefault(normalise_clause(clause), clause)
    chosen: list[str] = []
    for position, item in enumerate(value, start=1):
        if not isinstance(item, str) or not normalise_clause(item):
            messages.append(f"Item {position} must be a non-empty clause text.")
            continue
        key = normalise_clause(item)
        if term is None:
            text = " ".join(item.split())
        elif key in known:
            text = known[key]
        else:
            messages.append(f"{item.strip()!r} is not a clause of {term.name}.")
            continue
        if text not in chosen:
            chosen.append(text)
    if messages:
        raise _Invalid(*messages)
    return tuple(chosen)
