"""Grade a CTCAE v5.0 term from recorded facts.

How it works, and why:

- A grade's text is a list of clauses joined by semicolons, and a semicolon means "or". A clause
  holds when the clinician ticked it (``facts.criteria``) or when the recorded facts satisfy its
  mapping. The event takes the highest grade with a holding clause, and never a grade the term
  lacks.
- The mappings are data (``clauses.py``): `GENERIC_CLAUSES` pairs a regular expression over the
  normalised clause with a predicate written as nested tuples, e.g. ``("intervention", "eq",
  "iv")`` or ``("all", (spec, spec))``. ``evaluation.evaluate`` interprets them; nothing is built
  into code strings or evaluated. Each mapping is sound rather than complete: the facts it asks
  for imply the clause. A leading qualifier no fact records ("Localized, local intervention
  indicated") is assumed and named in the rationale; clauses no fact can express otherwise are
  left to the checklist.
- Measurement clauses (``measurements.py``: temperature, haemoglobin, transfused units) are
  parsed from the CTCAE text, so the numbers and the open/closed ends come from the NCI's
  wording, not from copies in code.
- Facts are three-valued: a fact that was not recorded is unknown, and a clause that depends on
  it is neither true nor false. Negative clauses ("intervention not indicated") therefore hold
  only when the fact is recorded and absent.
- Some clauses only qualify their neighbours and would overgrade if read alone: a clause
  repeated later in the same term counts where it first appears; a clause that holds when
  nothing happened ("hospitalization not indicated") is not read alone above the term's lowest
  grade; a clause reading the same facts as a lower grade's, told apart only by a qualifier
  ("Non-urgent"), is left to the checklist; and a broader higher clause does not swallow a
  lower grade's precise one (``compiling.py``). The rules are stated for
  users in docs/domain.md, "Grading conventions".
- A ticked clause that the recorded facts deny is refused, not graded.
- Rationales, warnings and refusals are `messages.Message` objects rendered in English for the
  record and in the interface's language by the Django side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .catalogue import Term
from .clauses import Spec
from .compiling import (
    CompiledClause,
    compile_term,
    generic_spec,
    qualified_spec,
)
from .evaluation import HEMOGLOBIN_LLN_G_DL, evaluate, facts_in
from .facts import Facts, normalise_clause
from .measurements import measurement_spec
from .messages import FactNames, FactValues, Joined, Message, Translate, render_all

__all__ = [
    "MAJOR_GRADE",
    "GradeResult",
    "GradingError",
    "Match",
    "grade",
    "severity_for",
]


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


MAJOR_GRADE = 3  # the lowest major grade


def severity_for(grade: int) -> str:
    """CTCAE grades 1-2 are minor, 3-5 major (domain rule, as in the reference study)."""
    if grade in (1, 2):
        return "minor"
    if grade in (MAJOR_GRADE, 4, 5):
        return "major"
    raise ValueError(f"CTCAE grades run from 1 to 5, not {grade!r}.")


def _describe_facts(spec: Spec, facts: Facts, lln: float, sex: str | None) -> FactValues:
    """The recorded facts a clause reads (an "or" clause may hold with some left blank)."""
    items = tuple(
        (name, getattr(facts, name)) for name in facts_in(spec) if getattr(facts, name) is not None
    )
    return FactValues(items, (lln, sex) if _mentions_lln(spec) else None)


def _mentions_lln(spec: Spec) -> bool:
    if spec[0] == "not":
        return _mentions_lln(spec[1])
    if spec[0] in ("all", "any"):
        return any(_mentions_lln(part) for part in spec[1])
    return bool(spec[2] == "LLN")


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
            used_facts.update(facts_in(item.spec))
            result = evaluate(item.spec, facts, lln)
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
                deciding_facts.update(facts_in(item.spec))
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
    spec = measurement_spec(normalised) or generic_spec(normalised)
    if spec is None and (qualified := qualified_spec(item.text)) is not None:
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
    level reached (see `evaluate`), measurements and yes/no facts as recorded.
    """
    problems: list[Message] = []
    for item in compiled:
        if item.kind == "repeated" or normalise_clause(item.text) not in ticked:
            continue
        condition = _condition(item, compiled)
        if condition is None or evaluate(condition, facts, lln, peak=True) is not False:
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
    names = facts_in(item.spec)
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
