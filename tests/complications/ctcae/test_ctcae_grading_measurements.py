"""Measurement clauses parsed from the CTCAE text: fever, anaemia, hypothermia, transfused units."""

from __future__ import annotations

from typing import Any

import pytest

from complications.ctcae import Facts, GradingError, Term, clause_kind, compile_term, grade


@pytest.mark.parametrize(
    ("temperature", "hours", "expected"),
    [
        (38.0, None, 1),
        (38.5, None, 1),
        (39.0, None, 1),
        (39.01, None, 2),
        (40.0, None, 2),
        (40.01, 0.5, 3),
        (40.01, 24.0, 3),
        (40.01, 24.01, 4),
        (41.5, 72, 4),
    ],
)
def test_fever_takes_its_grade_from_temperature_and_duration(
    curated_by_name: dict[str, Term], temperature: float, hours: float | None, expected: int
) -> None:
    result = grade(curated_by_name["Fever"], Facts(temperature_c=temperature, fever_hours=hours))
    assert result.grade == expected
    assert result.matched[0].source == "measurement"


def test_fever_below_38_fits_no_grade(curated_by_name: dict[str, Term]) -> None:
    with pytest.raises(GradingError) as caught:
        grade(curated_by_name["Fever"], Facts(temperature_c=37.9))
    assert caught.value.reason == "no_match"
    assert "Facts fit no grade of Fever; it has grades 1, 2, 3, 4, 5" in str(caught.value)


def test_fever_above_40_asks_for_its_duration(curated_by_name: dict[str, Term]) -> None:
    with pytest.raises(GradingError, match=r"for <=24 hrs\" also needs fever duration\."):
        grade(curated_by_name["Fever"], Facts(temperature_c=40.5))


def test_the_fever_rationale_quotes_the_clause_and_the_facts(
    curated_by_name: dict[str, Term],
) -> None:
    result = grade(curated_by_name["Fever"], Facts(temperature_c=40.5, fever_hours=30))
    assert result.rationale == (
        'Grade 4: ">40.0 degrees C (>104.0 degrees F) for >24 hrs" '
        "(temperature: 40.5 °C, fever duration: 30 h)"
    )


@pytest.mark.parametrize(
    ("sex", "hemoglobin", "expected"),
    [
        ("female", 11.99, 1),
        ("female", 10.0, 1),
        ("female", 9.99, 2),
        ("female", 8.0, 2),
        ("female", 7.99, 3),
        ("male", 13.49, 1),
        ("male", 12.5, 1),
        (None, 11.99, 1),
        (None, 8.0, 2),
        (None, 3.0, 3),
    ],
)
def test_anemia_takes_its_grade_from_haemoglobin(
    curated_by_name: dict[str, Term], sex: str | None, hemoglobin: float, expected: int
) -> None:
    result = grade(curated_by_name["Anemia"], Facts(hemoglobin_g_dl=hemoglobin), sex=sex)
    assert result.grade == expected


@pytest.mark.parametrize(("sex", "hemoglobin"), [("female", 12.0), ("male", 13.5), (None, 12.0)])
def test_haemoglobin_at_the_lower_limit_of_normal_is_not_anaemia(
    curated_by_name: dict[str, Term], sex: str | None, hemoglobin: float
) -> None:
    with pytest.raises(GradingError) as caught:
        grade(curated_by_name["Anemia"], Facts(hemoglobin_g_dl=hemoglobin), sex=sex)
    assert caught.value.reason == "no_match"


def test_a_transfusion_makes_anemia_grade_3_whatever_the_haemoglobin(
    curated_by_name: dict[str, Term],
) -> None:
    result = grade(curated_by_name["Anemia"], Facts(hemoglobin_g_dl=9.0, transfusion_units=2))
    assert result.grade == 3
    assert [(m.grade, m.clause, m.source) for m in result.matched] == [
        (3, "transfusion indicated", "generic"),
        (2, "Hgb <10.0 - 8.0 g/dL", "measurement"),
    ]


def test_the_anemia_rationale_names_the_lower_limit_used(curated_by_name: dict[str, Term]) -> None:
    result = grade(curated_by_name["Anemia"], Facts(hemoglobin_g_dl=11.0), sex="female")
    assert result.rationale == (
        'Grade 1: "Hemoglobin (Hgb) <LLN - 10.0 g/dL" '
        "(haemoglobin: 11 g/dL, haemoglobin lower limit of normal 12.0 g/dL for women)"
    )
    assert result.warnings == ()


def test_an_unknown_sex_is_graded_on_the_lower_limit_with_a_warning(
    curated_by_name: dict[str, Term],
) -> None:
    result = grade(curated_by_name["Anemia"], Facts(hemoglobin_g_dl=11.0))
    assert result.warnings == (
        "Sex unknown: the haemoglobin lower limit of normal was taken as 12.0 g/dL.",
    )


def test_grade_refuses_an_unknown_sex(curated_by_name: dict[str, Term]) -> None:
    with pytest.raises(ValueError, match="sex must be"):
        grade(curated_by_name["Anemia"], Facts(hemoglobin_g_dl=11.0), sex="F")


def test_unit_alternatives_are_covered_by_the_g_dl_clause(curated_by_name: dict[str, Term]) -> None:
    compiled = {item.text: item for item in compile_term(curated_by_name["Anemia"])}
    assert compiled["<LLN - 6.2 mmol/L"].kind == "measurement"
    assert compiled["<LLN - 6.2 mmol/L"].alternative_of == "Hemoglobin (Hgb) <LLN - 10.0 g/dL"
    assert compiled["<100 - 80g/L"].alternative_of == "Hgb <10.0 - 8.0 g/dL"
    assert compiled["<80 g/L"].alternative_of == "Hgb <8.0 g/dL"
    result = grade(curated_by_name["Anemia"], Facts(hemoglobin_g_dl=7.0))
    assert [m.clause for m in result.matched] == ["Hgb <8.0 g/dL"]


def test_a_bare_mmol_threshold_is_not_haemoglobin() -> None:
    # Hypokalemia writes "<LLN - 3.0 mmol/L"; without a g/dL sibling it is the checklist's
    assert clause_kind("<LLN - 3.0 mmol/L") == "checklist"
    assert clause_kind("<LLN - 6.2 mmol/L", siblings=["Hemoglobin (Hgb) <LLN - 10.0 g/dL"]) == (
        "measurement"
    )
    assert clause_kind("<LLN - 3 g/dL") == "checklist"  # albumin, not haemoglobin


@pytest.mark.parametrize(
    ("temperature", "expected"),
    [(35.0, 2), (32.01, 2), (32.0, 3), (28.01, 3), (28.0, 4), (25.0, 4)],
)
def test_hypothermia_reads_its_open_and_closed_ends_from_the_text(
    curated_by_name: dict[str, Term], temperature: float, expected: int
) -> None:
    assert grade(curated_by_name["Hypothermia"], Facts(temperature_c=temperature)).grade == expected


def test_the_fahrenheit_restatements_are_covered_by_the_celsius_clauses(
    curated_by_name: dict[str, Term],
) -> None:
    compiled = {item.text: item for item in compile_term(curated_by_name["Hypothermia"])}
    assert compiled["82.4 degrees F"].alternative_of == "<=28 degrees C"
    assert compiled["95 - >89.6 degrees F"].alternative_of == "35 - >32 degrees C"


def test_mild_hypothermia_fits_no_grade(curated_by_name: dict[str, Term]) -> None:
    with pytest.raises(GradingError):
        grade(curated_by_name["Hypothermia"], Facts(temperature_c=35.5))


@pytest.mark.parametrize(
    ("facts", "expected", "clause"),
    [
        ({"transfusion_units": 1}, 2,
         "Moderate bleeding requiring transfusion < 2 units (10 cc/kg for pediatrics) of pRBCs"),
        ({"transfusion_units": 2}, 3,
         "Transfusion indicated of >=2 units (10 cc/kg for pediatrics) pRBCs"),
        ({"transfusion_units": 4}, 3,
         "Transfusion indicated of >=2 units (10 cc/kg for pediatrics) pRBCs"),
    ],
)  # fmt: skip
def test_postoperative_hemorrhage_counts_transfused_units(
    curated_by_name: dict[str, Term], facts: dict[str, Any], expected: int, clause: str
) -> None:
    result = grade(curated_by_name["Postoperative hemorrhage"], Facts(**facts))
    assert result.grade == expected
    assert result.matched[0].clause == clause


def test_no_transfusion_is_not_moderate_bleeding(curated_by_name: dict[str, Term]) -> None:
    with pytest.raises(GradingError):
        grade(curated_by_name["Postoperative hemorrhage"], Facts(transfusion_units=0))


@pytest.mark.parametrize(
    "clause",
    [
        "38.0 - 39.0 degrees C (100.4 - 102.2 degrees F)",
        ">40.0 degrees C (>104.0 degrees F) for >24 hrs",
        "Hgb <10.0 - 8.0 g/dL",
        "35 - >32 degrees C",
        "<=28 degrees C",
    ],
)
def test_temperature_and_haemoglobin_clauses_are_measurements(clause: str) -> None:
    assert clause_kind(clause) == "measurement"


@pytest.mark.parametrize(
    "clause",
    [
        "39.0 - 38.0 - 37.0 degrees C",
        "40 degrees C",  # no comparison: not a range
        "Hgb <8.0 - <10.0 g/dL",  # both ends claim to be the top
        "Hgb 8.0 - 8.0 g/dL",  # empty range
        "Increase in >0 - 2 g/dL",  # a rise from baseline, not a level
    ],
)
def test_malformed_or_relative_ranges_are_left_to_the_checklist(clause: str) -> None:
    assert clause_kind(clause) == "checklist"
