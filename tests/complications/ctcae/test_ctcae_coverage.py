"""The coverage report: how every clause of CTCAE v5.0 is reached."""

from __future__ import annotations

import re

from complications.ctcae import (
    ReachedClause,
    Term,
    clause_kind,
    coverage_report,
    format_report,
    load_curated_catalogue,
    normalise_clause,
)


def test_every_clause_of_ctcae_is_reachable_and_counted(reference_terms: list[Term]) -> None:
    report = coverage_report(reference_terms)
    assert report.unreachable == []
    assert len(report.terms) == 837
    assert report.clauses == 5839
    kinds = ("generic", "measurement", "checklist", "repeated", "qualified")
    assert sum(getattr(report, kind) for kind in kinds) == 5839
    for row in report.terms:
        assert sum(getattr(row, kind) for kind in kinds) == row.clauses


def test_the_facts_reach_more_than_two_thirds_of_all_clauses(reference_terms: list[Term]) -> None:
    report = coverage_report(reference_terms)
    assert report.reached_by_facts / report.clauses > 2 / 3
    assert report.measurement == 21  # Fever, Anemia, Hypothermia, Postoperative hemorrhage
    assert report.repeated == 12
    # Hypotension, Renal colic, Spinal fracture, Wound complication (Grading conventions)
    assert report.qualified == 4


def test_it_counts_the_clauses_of_a_term_by_kind(curated_by_name: dict[str, Term]) -> None:
    report = coverage_report([curated_by_name["Anemia"], curated_by_name["Wound infection"]])
    anemia, wound = report.terms
    assert (anemia.clauses, anemia.generic, anemia.measurement, anemia.checklist) == (13, 4, 9, 0)
    assert (wound.clauses, wound.generic, wound.measurement, wound.checklist) == (7, 7, 0, 0)
    assert (report.clauses, report.generic, report.measurement, report.checklist) == (20, 11, 9, 0)


def test_it_lists_a_clause_that_criteria_cannot_name() -> None:
    broken = Term(
        code="10000002",
        name="Broken description",
        soc="Test",
        grades={1: "Mild symptoms; ", 2: "Moderate symptoms;.", 3: None, 4: None, 5: None},
    )
    report = coverage_report([broken])
    assert report.unreachable == [("10000002", 1, ""), ("10000002", 2, ".")]
    assert "Unreachable clauses:\n  10000002 grade 1: ''" in format_report(report)


def test_the_text_report_has_a_row_per_term_and_totals(curated_by_name: dict[str, Term]) -> None:
    text = format_report(coverage_report([curated_by_name["Fever"], curated_by_name["Pain"]]))
    lines = text.splitlines()
    assert lines[0].split() == [
        "code", "term", "clauses", "generic", "measure", "checklist", "repeated", "qualified",
    ]  # fmt: skip
    assert lines[2].split() == ["10016558", "Fever", "5", "1", "4", "0", "0", "0"]
    assert lines[3].split() == ["10033371", "Pain", "5", "5", "0", "0", "0", "0"]
    assert lines[5].split() == ["total", "2", "terms", "10", "6", "4", "0", "0", "0"]
    assert lines[6] == "Reached by facts: 10 of 10 (100.0%)."
    assert lines[7] == "Unreachable clauses: none."


def test_it_lists_per_term_the_clauses_facts_reach_and_those_left_to_the_checklist(
    curated_by_name: dict[str, Term],
) -> None:
    (wound, fracture) = coverage_report(
        [curated_by_name["Wound infection"], curated_by_name["Fracture"]]
    ).terms
    assert wound.reached[0] == ReachedClause(
        1, "Localized, local intervention indicated", "Localized"
    )
    assert wound.checklist_only == ()
    assert fracture.checklist_only == (
        ReachedClause(2, "Symptomatic but non-displaced"),
        ReachedClause(2, "immobilization indicated"),
        ReachedClause(3, "displaced or open wound with bone exposure"),
    )
    assert ReachedClause(3, "operative intervention indicated") in fracture.reached
    text = format_report(coverage_report([curated_by_name["Wound infection"]]), clauses=True)
    assert '      grade 1: Localized, local intervention indicated (assuming "Localized")' in text
    assert "    checklist only:" not in text


# The words of clauses that name only an intervention (its kind, not a named procedure), a
# symptom level, an ADL limit, a hospitalisation, a disability or death; the facts record these.
GENERIC_WORDS = frozenset(
    """intervention interventions treatment therapy medication medications medical management
    indicated initiated not no iv intravenous oral local topical invasive operative noninvasive
    non-operative minimally urgent elective non-urgent analgesics nonprescription prescription
    or and and/or hospitalization symptoms symptomatic mild moderate severe limiting self care
    instrumental age-appropriate adl adls death life-threatening consequences disability
    disabling transfusion""".split()
)
SYMPTOM_LEVEL = re.compile(r"(?:mild|moderate|severe) (?:back )?pain")


def names_only_what_facts_record(clause: str) -> bool:
    # a leading "Localized, " qualifies what follows (see the Grading conventions)
    text = re.sub(r"^localized, ", "", normalise_clause(clause))
    if SYMPTOM_LEVEL.fullmatch(text):
        return True
    # "A and/or B" and "A or B" hold when B does
    parts = re.split(r" and/or | or (?=\w+ intervention)", text)
    for part in parts:
        words = re.findall(r"[a-z/-]+", re.sub(r"\([^)]*\)?", " ", part))
        if words and all(word in GENERIC_WORDS for word in words):
            return True
    return False


def test_no_curated_clause_naming_only_what_facts_record_is_left_to_the_checklist() -> None:
    report = coverage_report(load_curated_catalogue().values())
    left = [
        (row.name, item.grade, item.text)
        for row in report.terms
        for item in row.checklist_only
        if names_only_what_facts_record(item.text)
    ]
    # Only clauses the engine maps but leaves to the checklist by their place in the term stay
    # there (Grading conventions in docs/domain.md): facts that already decide a lower grade, told
    # apart by a qualifier (4), and a clause that holds when nothing happened (6).
    assert sorted(left) == [
        ("Agitation", 3, "hospitalization not indicated"),
        ("Hypotension", 3, "Medical intervention indicated"),
        ("Spinal fracture", 2, "prescription analgesics indicated"),
    ]
    assert all(clause_kind(text) == "generic" for _name, _grade, text in left)
    rows = {row.name: row for row in report.terms}
    assert (
        ReachedClause(
            3,
            "Medical intervention indicated",
            "Non-urgent",
            "Non-urgent medical intervention indicated",
        )
        in rows["Hypotension"].checklist_only
    )
    # the detector does see such clauses: they are the ones the facts reach
    reached = [
        item.text
        for row in report.terms
        for item in row.reached
        if names_only_what_facts_record(item.text)
    ]
    for clause in (
        "treatment indicated",
        "medication indicated",
        "Mild back pain",
        "Prolonged (>=24 hrs) or recurring symptoms and/or invasive intervention indicated",
        "Localized, local intervention indicated",
        "disability",
    ):
        assert clause in reached
