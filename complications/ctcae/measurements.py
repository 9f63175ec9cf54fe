"""Measurement clauses (temperature, haemoglobin, transfused units), parsed from the CTCAE text."""

from __future__ import annotations

import re

from .clauses import TRANSFUSION, Spec, all_of

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
ALTERNATIVE_UNITS = re.compile(
    rf"(?:[<>]=?\s*)?(?:lln|{_NUMBER})(?:\s*-\s*(?:[<>]=?\s*)?{_NUMBER})?\s*"
    r"(?P<unit>mmol/l|g/l|degrees f)"
)
ALTERNATIVE_FOR = {
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
    return all_of((fact, _LOW_END[low_op], low), (fact, _HIGH_END[high_op], high))


def measurement_spec(normalised: str) -> Spec | None:
    """The predicate of a temperature, haemoglobin or transfused-units clause, if it is one."""
    if match := _TEMPERATURE.fullmatch(normalised):
        spec = _range_spec("temperature_c", match)
        if spec is None or match.group("hours") is None:
            return spec
        hours = ("fever_hours", _SINGLE[match.group("hours_op")], float(match.group("hours")))
        return all_of(spec, hours)
    if match := _HEMOGLOBIN.fullmatch(normalised):
        return _range_spec("hemoglobin_g_dl", match)
    if match := _TRANSFUSION_AT_LEAST.fullmatch(normalised):
        return ("transfusion_units", "ge", int(match.group("units")))
    if match := _TRANSFUSION_BELOW.fullmatch(normalised):
        return all_of(TRANSFUSION, ("transfusion_units", "lt", int(match.group("units"))))
    return None
