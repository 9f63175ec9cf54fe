"""The coverage report: how every clause of CTCAE v5.0 is reached."""

from __future__ import annotations

from complications.ctcae import Term, coverage_report, format_report


def test_every_clause_of_ctcae_is_reachable_and_counted(reference_terms: list[Term]) -> None:
    report = coverage_report(reference_terms)
    assert report.unreachable == []
    assert len(report.terms) == 837
    assert report.clauses == 5839
    assert report.generic + report.measurement + report.checklist + report.repeated == 5839
    for row in report.terms:
        assert row.generic + row.measurement + row.checklist + row.repeated == row.clauses


def test_the_facts_reach_more_than_two_thirds_of_all_clauses(reference_terms: list[Term]) -> None:
    report = coverage_report(reference_terms)
    assert report.reached_by_facts / report.clauses > 2 / 3
    assert report.measurement == 21  # Fever, Anemia, Hypothermia, Postoperative hemorrhage
    assert report.repeated == 12


def test_it_counts_the_clauses_of_a_term_by_kind(curated_by_name: dict[str, Term]) -> None:
    report = coverage_report([curated_by_name["Anemia"], curated_by_name["Wound infection"]])
    anemia, wound = report.terms
    assert (anemia.clauses, anemia.generic, anemia.measurement, anemia.checklist) == (13, 4, 9, 0)
    assert (wound.clauses, wound.generic, wound.measurement, wound.checklist) == (7, 6, 0, 1)
    assert (report.clauses, report.generic, report.measurement, report.checklist) == (20, 10, 9, 1)


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
        "code", "term", "clauses", "generic", "measure", "checklist", "repeated",
    ]  # fmt: skip
    assert lines[2].split() == ["10016558", "Fever", "5", "1", "4", "0", "0"]
    assert lines[3].split() == ["10033371", "Pain", "5", "5", "0", "0", "0"]
    assert lines[5].split() == ["total", "2", "terms", "10", "6", "4", "0", "0"]
    assert lines[6] == "Reached by facts: 10 of 10 (100.0%)."
    assert lines[7] == "Unreachable clauses: none."
