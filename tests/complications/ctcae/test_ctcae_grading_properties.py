"""Properties of the grading engine over all 837 CTCAE v5.0 terms."""

from __future__ import annotations

import itertools
from dataclasses import fields, replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from complications.ctcae import (
    ADL,
    INTERVENTIONS,
    SYMPTOMS,
    Facts,
    GradeResult,
    GradingError,
    Term,
    compile_term,
    grade,
    normalise_clause,
)
from complications.ctcae.compiling import DOMAINS
from complications.ctcae.evaluation import facts_in as facts_read

GENERIC_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "symptoms": st.sampled_from(SYMPTOMS),
    "intervention": st.sampled_from(INTERVENTIONS),
    "transfusion_units": st.integers(min_value=0, max_value=6),
    "hospitalization": st.booleans(),
    "adl": st.sampled_from(ADL),
    "disabling": st.booleans(),
    "life_threatening": st.booleans(),
    "death": st.booleans(),
    "temperature_c": st.floats(min_value=30.0, max_value=43.0),
    "fever_hours": st.floats(min_value=0.0, max_value=96.0),
    "hemoglobin_g_dl": st.floats(min_value=4.0, max_value=16.0),
}
FACT_FIELDS = [item.name for item in fields(Facts) if item.name != "criteria"]
PROPERTY_SETTINGS = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@st.composite
def partial_facts(draw: st.DrawFn) -> Facts:
    """Facts with a random subset recorded."""
    chosen = draw(st.sets(st.sampled_from(FACT_FIELDS), max_size=6))
    return Facts(**{name: draw(GENERIC_VALUES[name]) for name in chosen})


def outcome(term: Term, facts: Facts, sex: str | None = None) -> GradeResult | GradingError:
    try:
        return grade(term, facts, sex=sex)
    except GradingError as error:
        return error


@PROPERTY_SETTINGS
@given(data=st.data(), sex=st.sampled_from(["female", "male", None]))
def test_every_produced_grade_exists_for_its_term(
    reference_terms: list[Term], data: st.DataObject, sex: str | None
) -> None:
    term = data.draw(st.sampled_from(reference_terms))
    facts = data.draw(partial_facts())
    result = outcome(term, facts, sex)
    if isinstance(result, GradingError):
        assert result.grades_available == term.grades_available
        assert result.reason in ("no_match", "beyond_term")
        return
    assert result.grade in term.grades_available
    assert result.grade == result.matched[0].grade
    for match in result.matched:
        assert match.clause in term.clauses(match.grade)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_adding_a_fact_never_lowers_the_grade(
    reference_terms: list[Term], data: st.DataObject
) -> None:
    term = data.draw(st.sampled_from(reference_terms))
    facts = data.draw(partial_facts())
    before = outcome(term, facts)
    unrecorded = [name for name in FACT_FIELDS if getattr(facts, name) is None]
    if isinstance(before, GradingError) or not unrecorded:
        return
    name = data.draw(st.sampled_from(unrecorded))
    more = replace(facts, **{name: data.draw(GENERIC_VALUES[name])})
    after = outcome(term, more)
    if isinstance(after, GradingError):
        # only facts pointing beyond the term's grades may turn a grade into a refusal
        assert after.reason == "beyond_term"
        assert name in ("death", "life_threatening", "intervention")
    else:
        assert after.grade >= before.grade


@PROPERTY_SETTINGS
@given(data=st.data())
def test_ticking_a_clause_grades_at_least_that_clauses_grade(
    reference_terms: list[Term], data: st.DataObject
) -> None:
    term = data.draw(st.sampled_from(reference_terms))
    clauses = [(g, c) for g in term.grades_available for c in term.clauses(g)]
    _, clause = data.draw(st.sampled_from(clauses))
    # A text repeated at a higher grade ("Symptomatic" at 1 and 2) names the grade where it
    # first appears (see the checklist test below).
    ticked_grade = next(g for g, c in clauses if normalise_clause(c) == normalise_clause(clause))
    facts = replace(data.draw(partial_facts()), criteria=(clause,))
    result = outcome(term, facts)
    if isinstance(result, GradingError):
        # a tick the recorded facts deny is refused, as are facts beyond the term's grades
        assert result.reason in ("beyond_term", "contradiction")
    else:
        assert result.grade >= ticked_grade


def test_every_clause_of_every_term_can_decide_its_grade_by_the_checklist(
    reference_terms: list[Term],
) -> None:
    repeats = 0
    for term in reference_terms:
        first_grade: dict[str, int] = {}
        for grade_ in term.grades_available:
            for clause in term.clauses(grade_):
                first = first_grade.setdefault(normalise_clause(clause), grade_)
                repeats += first != grade_
                result = grade(term, Facts(criteria=(clause,)))
                # a text repeated at a higher grade names the grade where it first appears
                assert result.grade == first, (term.name, clause)
                assert [(m.grade, m.source) for m in result.matched] == [(first, "criteria")]
    assert repeats == 11  # plus Osteoporosis, which repeats a clause within grade 2


def test_every_clause_the_facts_reach_can_decide_its_own_grade(
    reference_terms: list[Term],
) -> None:
    """No clause is swallowed by a higher grade's broader one (Bronchospasm "Mild symptoms" at 1
    beside "Symptomatic" at 2): some recorded facts grade the event at the clause's grade."""
    dead = []
    for term in reference_terms:
        for item in compile_term(term):
            if item.kind != "generic" or item.spec is None:
                continue
            names = facts_read(item.spec)
            if any(name not in DOMAINS for name in names):
                continue
            for values in itertools.product(*(DOMAINS[name] for name in names)):
                result = outcome(term, Facts(**dict(zip(names, values, strict=True))))
                if (
                    isinstance(result, GradeResult)
                    and (item.grade, item.text)
                    in {(match.grade, match.clause) for match in result.matched}
                    and result.grade == item.grade
                ):
                    break
            else:
                dead.append((term.name, item.grade, item.text))
    assert dead == []
