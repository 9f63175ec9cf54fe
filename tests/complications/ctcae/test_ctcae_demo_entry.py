"""The demo cohort can be entered through the case form: facts it offers, grades as the study."""

from __future__ import annotations

from complications.ctcae import checklist, grade, load_curated_catalogue, parse_facts
from complications.demo import _events


def test_every_demo_complication_uses_only_what_the_form_offers_and_grades_as_the_study() -> None:
    catalogue = load_curated_catalogue()
    events = _events(set(range(300)))
    assert len(events) == 22
    for event in events:
        term = catalogue[event.term]
        offered = {clause for clauses in checklist(term).values() for clause in clauses}
        # the form's checkboxes are the term's checklist; everything else is a generic fact
        assert set(event.facts.get("criteria", [])) <= offered, (term.name, event.facts)
        result = grade(term, parse_facts(event.facts, term))
        assert result.grade == event.expect_grade, (term.name, result.rationale)


def test_the_per_procedural_hypotension_entered_as_the_form_records_it_stays_minor() -> None:
    (hypotension,) = [event for event in _events(set(range(300))) if event.term == "10021097"]
    assert hypotension.hours is None  # during the procedure
    term = load_curated_catalogue()["10021097"]
    result = grade(term, parse_facts(hypotension.facts, term))
    assert (result.grade, result.severity) == (2, "minor")
