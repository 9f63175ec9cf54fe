"""A term's clauses compiled: each with its kind and, when facts can decide it, its predicate;
and the checklist of the clauses left to the clinician."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from .catalogue import GRADES, Term
from .clauses import GENERIC_CLAUSES, LEADING_QUALIFIER, Spec, all_of, any_of
from .evaluation import HEMOGLOBIN_LLN_G_DL, evaluate, facts_in
from .facts import ORDINAL_SCALES, Facts, normalise_clause
from .measurements import ALTERNATIVE_FOR, ALTERNATIVE_UNITS, measurement_spec

ClauseKind = Literal["generic", "measurement", "checklist"]


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


@lru_cache(maxsize=4096)
def generic_spec(normalised: str) -> Spec | None:
    for pattern, spec in GENERIC_CLAUSES:
        if pattern.fullmatch(normalised):
            return spec
    return None


def qualified_spec(clause: str) -> tuple[Spec, str] | None:
    match = LEADING_QUALIFIER.fullmatch(normalise_clause(clause))
    if match is None or (spec := generic_spec(match.group("rest"))) is None:
        return None
    return spec, " ".join(clause.split())[: len(match.group("qualifier"))]


def _compile_grade(grade: int, clauses: Sequence[str]) -> tuple[CompiledClause, ...]:
    compiled: list[CompiledClause] = []
    primaries: dict[str, str] = {}  # fact -> clause text, for unit alternatives
    for clause in clauses:
        normalised = normalise_clause(clause)
        if (spec := measurement_spec(normalised)) is not None:
            compiled.append(CompiledClause(grade, clause, "measurement", spec))
            for fact in facts_in(spec):
                primaries.setdefault(fact, clause)
        elif (spec := generic_spec(normalised)) is not None:
            compiled.append(CompiledClause(grade, clause, "generic", spec))
        elif (qualified := qualified_spec(clause)) is not None:
            spec, qualifier = qualified
            compiled.append(CompiledClause(grade, clause, "generic", spec, qualifier=qualifier))
        else:
            compiled.append(CompiledClause(grade, clause, "checklist", None))
    for index, item in enumerate(compiled):
        if item.kind != "checklist":
            continue
        match = ALTERNATIVE_UNITS.fullmatch(normalise_clause(item.text))
        primary = match and primaries.get(ALTERNATIVE_FOR[match.group("unit")])
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
    return evaluate(spec, _NOTHING_HAPPENED, HEMOGLOBIN_LLN_G_DL[None]) is True


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
        clause = normalise_clause(item.text)
        if clause and clause in first_grade:
            result.append(
                CompiledClause(
                    item.grade, item.text, "repeated", None, repeat_of=first_grade[clause]
                )
            )
            continue
        first_grade[clause] = item.grade
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
DOMAINS: dict[str, tuple[Any, ...]] = {
    **ORDINAL_SCALES,
    **dict.fromkeys(("hospitalization", "disabling", "life_threatening", "death"), (False, True)),
    "transfusion_units": (0, 1, 2, 3, 4),
}


@lru_cache(maxsize=8192)
def _implies(first: Spec, second: Spec) -> bool:
    """Whether every recorded combination of facts that makes ``first`` hold makes ``second``."""
    names = list(dict.fromkeys(facts_in(first) + facts_in(second)))
    if any(name not in DOMAINS for name in names):
        return False
    for values in itertools.product(*(DOMAINS[name] for name in names)):
        facts = Facts(**dict(zip(names, values, strict=True)))
        if evaluate(first, facts, 0.0) and not evaluate(second, facts, 0.0):
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
                        spec = kept[0] if len(kept) == 1 else any_of(*kept)
                if _implies(other.spec, spec):
                    spec = all_of(spec, ("not", other.spec))
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
