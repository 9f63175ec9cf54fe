"""Three-valued evaluation of a clause's predicate on the recorded facts."""

from __future__ import annotations

from typing import Any

from .clauses import Spec
from .facts import ORDINAL_SCALES, Facts

# Lower limit of normal (LLN) for haemoglobin, g/dL, for "<LLN" in Anemia grade 1. CTCAE leaves
# the LLN to the local laboratory, and the registry stores no laboratory ranges, so it uses:
# - women 12.0 g/dL: the WHO anaemia threshold for non-pregnant adult women (WHO, "Haemoglobin
#   concentrations for the diagnosis of anaemia and assessment of severity",
#   WHO/NMH/NHD/MNM/11.1, 2011);
# - men 13.5 g/dL: the usual laboratory reference lower limit for adult men (WHO's anaemia
#   threshold for men is 13.0 g/dL; the registry follows the laboratory convention);
# - unknown sex 12.0 g/dL: the lower of the two, so that a missing sex never creates anaemia.
HEMOGLOBIN_LLN_G_DL: dict[str | None, float] = {"female": 12.0, "male": 13.5, None: 12.0}


def facts_in(spec: Spec) -> list[str]:
    """Fact names a predicate reads, in order, without repeats."""
    if spec[0] == "not":
        return facts_in(spec[1])
    if spec[0] in ("all", "any"):
        names: list[str] = []
        for part in spec[1]:
            names.extend(name for name in facts_in(part) if name not in names)
        return names
    return [spec[0]]


def _resolve(value: Any, lln: float) -> Any:
    return lln if value == "LLN" else value


def evaluate(spec: Spec, facts: Facts, lln: float, *, peak: bool = False) -> bool | None:
    """Kleene three-valued logic: None when the answer depends on a fact that was not recorded.

    With ``peak``, an ordinal fact is read as the worst level reached, so any level from the
    first one above "none" up to it may also have held: an intravenous intervention does not
    deny that an oral one was indicated, but it denies "intervention not indicated".
    """
    head = spec[0]
    if head == "not":
        inner = evaluate(spec[1], facts, lln, peak=peak)
        return None if inner is None else not inner
    if head in ("all", "any"):
        results = [evaluate(part, facts, lln, peak=peak) for part in spec[1]]
        decisive: bool = head == "any"  # True decides "any", False decides "all"
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
        return bool(actual in expected)
    scale = ORDINAL_SCALES.get(fact)
    if scale is not None:
        actual, expected = scale.index(actual), scale.index(expected)
    else:
        expected = _resolve(expected, lln)
    if op == "eq":
        return bool(actual == expected)
    if op == "ge":
        return bool(actual >= expected)
    if op == "gt":
        return bool(actual > expected)
    if op == "le":
        return bool(actual <= expected)
    if op == "lt":
        return bool(actual < expected)
    raise ValueError(f"Unknown operator {op!r} for {fact}.")
