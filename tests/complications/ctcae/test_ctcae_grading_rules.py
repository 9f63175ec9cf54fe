"""The grading rules: highest grade wins, never a grade the term lacks, clear refusals."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from complications.ctcae import (
    ADL,
    INTERVENTIONS,
    SYMPTOMS,
    Facts,
    GradingError,
    Term,
    checklist,
    compile_term,
    grade,
    parse_facts,
    severity_for,
)

OTHER_SPECIFY_SCALE: list[tuple[dict[str, Any], int]] = [
    ({"symptoms": "none"}, 1),
    ({"symptoms": "mild"}, 1),
    ({"intervention": "none"}, 1),
    ({"symptoms": "moderate"}, 2),
    ({"intervention": "local"}, 2),
    ({"intervention": "oral"}, 2),
    ({"adl": "instrumental"}, 2),
    ({"symptoms": "severe"}, 3),
    ({"adl": "self_care"}, 3),
    ({"life_threatening": True}, 4),
    ({"intervention": "urgent"}, 4),
    ({"death": True}, 5),
]


def facts_grid() -> list[Facts]:
    """Every combination of the ordinal facts and the serious booleans (none = not recorded)."""
    grid = []
    for symptoms, intervention, adl, life_threatening, death, hospitalization in itertools.product(
        (None, *SYMPTOMS),
        (None, *INTERVENTIONS),
        (None, *ADL),
        (None, True),
        (None, True),
        (None, False, True),
    ):
        grid.append(
            Facts(
                symptoms=symptoms,
                intervention=intervention,
                adl=adl,
                life_threatening=life_threatening,
                death=death,
                hospitalization=hospitalization,
            )
        )
    return grid


def other_specify_terms(curated: dict[str, Term], *, except_names: tuple[str, ...]) -> list[str]:
    return sorted(
        name for name, term in curated.items() if term.is_other_specify and name not in except_names
    )


def test_the_event_takes_the_highest_grade_with_a_holding_clause(
    curated_by_name: dict[str, Term],
) -> None:
    result = grade(
        curated_by_name["Wound infection"],
        Facts(intervention="iv", criteria=("Localized, local intervention indicated",)),
    )
    assert result.grade == 3
    assert [(m.grade, m.source) for m in result.matched] == [(3, "generic"), (1, "criteria")]


def test_a_ticked_clause_grades_on_its_own(curated_by_name: dict[str, Term]) -> None:
    wound = curated_by_name["Wound infection"]
    facts = parse_facts({"criteria": ["localized, local intervention indicated"]}, wound)
    result = grade(wound, facts)
    assert result.grade == 1
    assert result.severity == "minor"
    assert result.rationale == (
        'Grade 1: "Localized, local intervention indicated" (ticked in the checklist)'
    )


def test_the_rationale_quotes_each_deciding_clause_with_its_facts(
    curated_by_name: dict[str, Term],
) -> None:
    result = grade(
        curated_by_name["Wound infection"], Facts(intervention="iv", life_threatening=False)
    )
    assert result.rationale == (
        'Grade 3: "IV antibiotic, antifungal, or antiviral intervention indicated" '
        "(intervention: intravenous)"
    )
    assert result.severity == "major"
    assert result.grades_available == (1, 2, 3, 4, 5)
    result = grade(curated_by_name["Pain"], Facts(symptoms="severe", adl="self_care"))
    assert result.rationale == (
        'Grade 3: "Severe pain" (symptoms: severe); "limiting self care ADL" '
        "(ADL limitation: self-care)"
    )


def grades_over_the_grid(term: Term) -> set[int | str]:
    """Every outcome over the facts grid: a grade, or the reason of a refusal."""
    outcomes: set[int | str] = set()
    for facts in facts_grid():
        try:
            outcomes.add(grade(term, facts).grade)
        except GradingError as error:
            assert error.grades_available == term.grades_available
            outcomes.add(error.reason)
    return outcomes


def test_pain_in_extremity_never_yields_grade_4_or_5(curated_by_name: dict[str, Term]) -> None:
    outcomes = grades_over_the_grid(curated_by_name["Pain in extremity"])
    assert outcomes == {1, 2, 3, "no_match", "beyond_term"}


def test_pain_in_extremity_says_clearly_it_has_no_grade_4(curated_by_name: dict[str, Term]) -> None:
    with pytest.raises(GradingError) as caught:
        grade(curated_by_name["Pain in extremity"], Facts(symptoms="severe", life_threatening=True))
    assert caught.value.reason == "beyond_term"
    assert caught.value.grades_available == (1, 2, 3)
    assert str(caught.value).startswith(
        "The facts record life-threatening consequences, but Pain in extremity has no grade 4; "
        "it has grades 1, 2, 3."
    )


def test_death_on_a_term_without_grade_5_is_refused(curated_by_name: dict[str, Term]) -> None:
    with pytest.raises(
        GradingError, match="Pain in extremity has no grade 5; it has grades 1, 2, 3"
    ):
        grade(curated_by_name["Pain in extremity"], Facts(symptoms="severe", death=True))


def test_an_urgent_intervention_on_a_term_without_grade_4_is_refused(
    curated_by_name: dict[str, Term],
) -> None:
    with pytest.raises(GradingError, match="an urgent intervention, but Seroma has no grade 4"):
        grade(curated_by_name["Seroma"], Facts(symptoms="mild", intervention="urgent"))


def test_an_urgent_intervention_a_grade_3_clause_names_is_accepted(
    reference_by_name: dict[str, Term],
) -> None:
    # Methemoglobinemia: grade 3 "Requiring urgent intervention", grade 4 life-threatening only;
    # Arterial thromboembolism has no grade 1-2 and grades urgent intervention 3.
    assert grade(reference_by_name["Methemoglobinemia"], Facts(intervention="urgent")).grade == 3
    assert (
        grade(reference_by_name["Arterial thromboembolism"], Facts(intervention="urgent")).grade
        == 3
    )


def test_bone_infection_never_yields_grade_1(curated_by_name: dict[str, Term]) -> None:
    outcomes = grades_over_the_grid(curated_by_name["Bone infection"])
    assert outcomes == {2, 3, 4, 5, "no_match"}


def test_facts_that_fit_no_grade_are_refused_with_the_terms_grades(
    curated_by_name: dict[str, Term],
) -> None:
    with pytest.raises(GradingError) as caught:
        grade(curated_by_name["Bone infection"], Facts(intervention="none", symptoms="mild"))
    assert caught.value.reason == "no_match"
    assert caught.value.grades_available == (2, 3, 4, 5)
    message = str(caught.value)
    assert message.startswith("Facts fit no grade of Bone infection; it has grades 2, 3, 4, 5:")
    assert "grade 2: Oral intervention indicated" in message


def test_no_facts_fit_no_grade(curated_by_name: dict[str, Term]) -> None:
    with pytest.raises(GradingError, match="Facts fit no grade of Pain in extremity"):
        grade(curated_by_name["Pain in extremity"], Facts())


@pytest.mark.parametrize(("facts", "expected"), OTHER_SPECIFY_SCALE)
def test_other_specify_terms_follow_the_generic_scale_in_their_text(
    curated_by_name: dict[str, Term], facts: dict[str, Any], expected: int
) -> None:
    names = other_specify_terms(curated_by_name, except_names=("Eye disorders - Other, specify",))
    assert len(names) == 25
    for name in names:
        assert grade(curated_by_name[name], Facts(**facts)).grade == expected, name


def test_hospitalisation_is_grade_3_except_for_psychiatric_other_where_it_is_4(
    curated_by_name: dict[str, Term],
) -> None:
    grades = {
        name: grade(term, Facts(hospitalization=True)).grade
        for name, term in curated_by_name.items()
        if term.is_other_specify and not name.startswith("Eye")
    }
    assert grades.pop("Psychiatric disorders - Other, specify") == 4
    assert set(grades.values()) == {3}


def test_eye_other_specify_keeps_its_own_sight_based_scale(
    curated_by_name: dict[str, Term],
) -> None:
    eye = curated_by_name["Eye disorders - Other, specify"]
    assert grade(eye, Facts(symptoms="mild")).grade == 1
    assert grade(eye, Facts(adl="self_care")).grade == 3
    assert grade(eye, Facts(intervention="urgent")).grade == 4
    with pytest.raises(GradingError, match="no grade 5"):
        grade(eye, Facts(death=True))
    # "Sight-threatening consequences" is not a life-threatening fact: the checklist decides
    assert "Sight-threatening consequences" in checklist(eye)[4]


def test_a_clause_that_holds_when_nothing_happened_cannot_lift_a_grade(
    reference_by_name: dict[str, Term],
) -> None:
    # Hydrocephalus grade 2 reads "Moderate symptoms; intervention not indicated"
    hydrocephalus = reference_by_name["Hydrocephalus"]
    assert grade(hydrocephalus, Facts(intervention="none")).grade == 1
    assert grade(hydrocephalus, Facts(symptoms="moderate", intervention="none")).grade == 2
    # Agitation grade 3 reads "Severe agitation; hospitalization not indicated"
    agitation = reference_by_name["Agitation"]
    assert "hospitalization not indicated" in checklist(agitation)[3]
    with pytest.raises(GradingError):
        grade(agitation, Facts(hospitalization=False))


def test_a_clause_repeated_at_a_higher_grade_counts_where_it_first_appears(
    curated_by_name: dict[str, Term],
) -> None:
    # grade 1 "Symptomatic; perceived by patient but not evident on physical exam",
    # grade 2 "Symptomatic; evident on physical exam; limiting instrumental ADL"
    weakness = curated_by_name["Muscle weakness lower limb"]
    assert grade(weakness, Facts(symptoms="mild")).grade == 1
    assert grade(weakness, Facts(symptoms="moderate", adl="instrumental")).grade == 2
    assert grade(weakness, Facts(criteria=("Symptomatic", "evident on physical exam"))).grade == 2
    repeated = [item for item in compile_term(weakness) if item.kind == "repeated"]
    assert [(item.grade, item.text, item.repeat_of) for item in repeated] == [(2, "Symptomatic", 1)]


def test_it_warns_about_facts_the_term_does_not_use(curated_by_name: dict[str, Term]) -> None:
    result = grade(
        curated_by_name["Pain in extremity"],
        Facts(symptoms="moderate", temperature_c=38.5, hospitalization=False, transfusion_units=0),
    )
    assert result.warnings == ("No clause of Pain in extremity uses the recorded temperature.",)


def test_it_warns_about_criteria_that_are_not_clauses_of_the_term(
    curated_by_name: dict[str, Term],
) -> None:
    result = grade(curated_by_name["Pain"], Facts(symptoms="mild", criteria=("Localized",)))
    assert result.warnings == ('"Localized" is not a clause of Pain; it was ignored.',)


def test_the_checklist_offers_what_the_facts_cannot_reach(curated_by_name: dict[str, Term]) -> None:
    assert checklist(curated_by_name["Wound infection"]) == {
        1: ["Localized, local intervention indicated"]
    }
    assert checklist(curated_by_name["Fracture"]) == {
        2: ["Symptomatic but non-displaced", "immobilization indicated"],
        3: ["displaced or open wound with bone exposure"],
    }
    assert checklist(curated_by_name["Pain in extremity"]) == {}


def test_compiled_clauses_follow_the_terms_text(curated_by_name: dict[str, Term]) -> None:
    term = curated_by_name["Fracture"]
    compiled = compile_term(term)
    assert [(item.grade, item.text) for item in compiled] == [
        (grade_, clause) for grade_ in term.grades_available for clause in term.clauses(grade_)
    ]


@pytest.mark.parametrize(
    ("grade_", "severity"), [(1, "minor"), (2, "minor"), (3, "major"), (4, "major"), (5, "major")]
)
def test_grades_1_2_are_minor_and_3_to_5_major(grade_: int, severity: str) -> None:
    assert severity_for(grade_) == severity


@pytest.mark.parametrize("bad", [0, 6, -1])
def test_severity_refuses_a_grade_outside_1_to_5(bad: int) -> None:
    with pytest.raises(ValueError, match="from 1 to 5"):
        severity_for(bad)


# Each row: term, recorded facts, the ticked clause (CTCAE v5.0 wording), and a fact the refusal
# names. Ordinal facts are the worst level reached, so only a lower level denies a clause.
CONTRADICTED_TICKS: list[tuple[str, dict[str, Any], str, str]] = [
    ("Death NOS", {"death": False}, "Death", "death: no"),
    ("Sudden death NOS", {"death": False}, "Death", "death: no"),
    (
        "Fever",
        {"temperature_c": 38.2},
        ">40.0 degrees C (>104.0 degrees F) for >24 hrs",
        "temperature: 38.2 °C",
    ),
    (
        "Fever",
        {"temperature_c": 40.5, "fever_hours": 12},
        ">40.0 degrees C (>104.0 degrees F) for >24 hrs",
        "fever duration: 12 h",
    ),
    ("Anemia", {"hemoglobin_g_dl": 9.5}, "Hgb <8.0 g/dL", "haemoglobin: 9.5 g/dL"),
    ("Anemia", {"hemoglobin_g_dl": 9.5}, "<4.9 mmol/L", "haemoglobin: 9.5 g/dL"),
    ("Anemia", {"transfusion_units": 0}, "transfusion indicated", "red cell units transfused: 0"),
    ("Wound infection", {"intervention": "oral"}, "invasive intervention indicated", "oral"),
    ("Hematoma", {"symptoms": "none"}, "Mild symptoms", "symptoms: none"),
    ("Hematoma", {"intervention": "iv"}, "intervention not indicated", "intervention: intravenous"),
    ("Pain", {"symptoms": "mild"}, "Severe pain", "symptoms: mild"),
    ("Pain", {"adl": "instrumental"}, "limiting self care ADL", "ADL limitation: instrumental"),
    (
        "Wound infection",
        {"life_threatening": False},
        "Life-threatening consequences",
        "life-threatening consequences: no",
    ),
]


@pytest.mark.parametrize(("name", "facts", "clause", "named_fact"), CONTRADICTED_TICKS)
def test_it_refuses_a_ticked_clause_that_the_recorded_facts_contradict(
    curated_by_name: dict[str, Term],
    name: str,
    facts: dict[str, Any],
    clause: str,
    named_fact: str,
) -> None:
    term = curated_by_name[name]
    with pytest.raises(GradingError) as caught:
        grade(term, parse_facts({**facts, "criteria": [clause]}, term))
    assert caught.value.reason == "contradiction"
    assert caught.value.grades_available == term.grades_available
    assert f'"{clause}"' in str(caught.value)
    assert named_fact in str(caught.value)


# A tick the facts leave open, or that a worse recorded level still allows, grades as ticked.
CONSISTENT_TICKS: list[tuple[str, dict[str, Any], str, int]] = [
    ("Death NOS", {}, "Death", 5),
    ("Fever", {"temperature_c": 40.5}, ">40.0 degrees C (>104.0 degrees F) for >24 hrs", 4),
    # an IV antibiotic does not deny that an oral one was indicated first
    ("Wound infection", {"intervention": "iv"}, "Localized, local intervention indicated", 3),
    ("Pain", {"symptoms": "severe"}, "Mild pain", 3),
    ("Pain", {"adl": "self_care"}, "limiting instrumental ADL", 3),
]


@pytest.mark.parametrize(("name", "facts", "clause", "expected"), CONSISTENT_TICKS)
def test_a_ticked_clause_the_facts_allow_is_kept(
    curated_by_name: dict[str, Term],
    name: str,
    facts: dict[str, Any],
    clause: str,
    expected: int,
) -> None:
    term = curated_by_name[name]
    result = grade(term, parse_facts({**facts, "criteria": [clause]}, term))
    assert result.grade == expected
    assert any(match.clause == clause for match in result.matched)


@pytest.mark.parametrize("name", ["Death NOS", "Sudden death NOS"])
@pytest.mark.parametrize(
    "facts",
    [
        {"death": True, "life_threatening": True},
        {"death": True, "intervention": "urgent"},
        {"death": True, "life_threatening": True, "intervention": "urgent", "symptoms": "severe"},
        {"life_threatening": True, "criteria": ["Death"]},
    ],
)
def test_a_recorded_death_grades_5_even_beside_grade_4_facts_on_death_terms(
    curated_by_name: dict[str, Term], name: str, facts: dict[str, Any]
) -> None:
    # Death NOS and Sudden death NOS have grade 5 "Death" alone (grades 1-4 are "-")
    term = curated_by_name[name]
    assert term.grades_available == (5,)
    assert grade(term, parse_facts(facts, term)).grade == 5


def test_the_grade_5_rule_wins_on_every_term_that_has_grade_5(
    reference_terms: list[Term],
) -> None:
    with_death = [term for term in reference_terms if 5 in term.grades_available]
    assert len(with_death) == 494
    beside_death = [
        Facts(death=True),
        Facts(death=True, life_threatening=True),
        Facts(death=True, intervention="urgent", hospitalization=True),
        Facts(death=True, symptoms="severe", adl="self_care", disabling=True),
        Facts(death=True, symptoms="none", intervention="none", hospitalization=False),
        Facts(
            death=True,
            life_threatening=True,
            intervention="urgent",
            transfusion_units=4,
            temperature_c=40.5,
            fever_hours=30,
            hemoglobin_g_dl=6.0,
        ),
    ]
    for term in with_death:
        for facts in beside_death:
            assert grade(term, facts).grade == 5, (term.name, facts)


# Grading conventions (docs/domain.md): clauses of two grades that the same facts reach, told
# apart only by a qualifier no fact records. (term, facts, grade, the qualifier named, the
# higher clause offered on the checklist, its grade)
QUALIFIED_PAIRS: list[tuple[str, dict[str, Any], int, str, str, int]] = [
    # the reference study's per-procedural hypotension: fluids and a vasopressor bolus
    ("Hypotension", {"intervention": "iv"}, 2, "Non-urgent", "Medical intervention indicated", 3),
    ("Hypotension", {"intervention": "oral"}, 2, "Non-urgent", "Medical intervention indicated", 3),
    ("Spinal fracture", {"intervention": "oral"}, 1, "nonprescription / prescription",
     "prescription analgesics indicated", 2),
    ("Wound complication", {"intervention": "local"}, 1, "topical intervention / Bedside local care",
     "Bedside local care indicated", 2),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "facts", "expected", "qualifier", "higher", "higher_grade"), QUALIFIED_PAIRS
)
def test_facts_that_a_qualifier_alone_sets_apart_give_the_lower_grade_and_name_the_qualifier(
    curated_by_name: dict[str, Term],
    name: str,
    facts: dict[str, Any],
    expected: int,
    qualifier: str,
    higher: str,
    higher_grade: int,
) -> None:
    term = curated_by_name[name]
    result = grade(term, parse_facts(facts, term))
    assert result.grade == expected
    assert f'Grade {higher_grade} "{higher}"' in result.rationale
    assert f'differs only by "{qualifier}"' in result.rationale
    assert higher in checklist(term)[higher_grade]
    ticked = grade(term, parse_facts({**facts, "criteria": [higher]}, term))
    assert ticked.grade == higher_grade
    assert "differs only by" not in ticked.rationale


def test_hypotension_grade_3_still_comes_from_a_hospitalisation(
    curated_by_name: dict[str, Term],
) -> None:
    # grade 3 reads "Medical intervention indicated; hospitalization indicated"
    hypotension = curated_by_name["Hypotension"]
    result = grade(hypotension, Facts(intervention="iv", hospitalization=True))
    assert result.grade == 3
    assert "differs only by" not in result.rationale


def test_a_qualifier_no_fact_records_is_assumed_and_named(
    curated_by_name: dict[str, Term],
) -> None:
    wound = curated_by_name["Wound infection"]
    result = grade(wound, Facts(intervention="local"))
    assert result.grade == 1
    assert result.rationale == (
        'Grade 1: "Localized, local intervention indicated" (intervention: local; assuming '
        '"Localized", which no fact records)'
    )
    assert checklist(wound)[1] == ["Localized, local intervention indicated"]


def test_a_clause_repeated_at_a_higher_grade_counts_at_the_lower_one_delirium(
    curated_by_name: dict[str, Term],
) -> None:
    # Delirium: "urgent intervention indicated" at grade 3 and again at grade 4 beside
    # "Life-threatening consequences, threats of harm to self or others"; the urgent intervention
    # alone cannot tell 3 from 4, so it gives 3 and life-threatening consequences give 4.
    delirium = curated_by_name["Delirium"]
    assert "urgent intervention indicated" in delirium.clauses(3)
    assert "urgent intervention indicated" in delirium.clauses(4)
    assert grade(delirium, Facts(intervention="urgent")).grade == 3
    assert grade(delirium, Facts(intervention="urgent", life_threatening=True)).grade == 4


# A higher clause that holds whenever a lower grade's clause does is read "and not that clause";
# an alternative restating a lower clause is dropped (Grading conventions, rule 4).
NARROWED: list[tuple[str, dict[str, Any], int]] = [
    ("Bronchospasm", {"symptoms": "mild"}, 1),  # 1 "Mild symptoms", 2 "Symptomatic"
    ("Bronchospasm", {"symptoms": "moderate"}, 2),
    ("Hypoparathyroidism", {"intervention": "oral"}, 2),  # 2 "medical intervention indicated"
    ("Hypoparathyroidism", {"hospitalization": True}, 3),  # 3 "... or hospitalization indicated"
    ("Capillary leak syndrome", {"intervention": "oral"}, 2),  # 3 "intervention indicated"
    ("Capillary leak syndrome", {"intervention": "invasive"}, 3),
    # 2 "Moderate pain, analgesics indicated", 3 "medical intervention indicated"
    ("Laryngeal mucositis", {"symptoms": "moderate", "intervention": "oral"}, 2),
    ("Laryngeal mucositis", {"symptoms": "mild", "intervention": "iv"}, 3),
    # 1 "Symptomatic but not limiting ADL", 2 "Symptomatic"
    ("Night blindness", {"symptoms": "mild", "adl": "none"}, 1),
    ("Night blindness", {"symptoms": "mild", "adl": "instrumental"}, 2),
]


@pytest.mark.parametrize(("name", "facts", "expected"), NARROWED)
def test_a_broader_higher_clause_does_not_swallow_a_lower_grades_clause(
    reference_by_name: dict[str, Term], name: str, facts: dict[str, Any], expected: int
) -> None:
    assert grade(reference_by_name[name], Facts(**facts)).grade == expected


def test_a_narrowed_clause_ticked_still_says_what_its_text_says(
    reference_by_name: dict[str, Term],
) -> None:
    bronchospasm = reference_by_name["Bronchospasm"]
    ticked = grade(bronchospasm, Facts(symptoms="mild", criteria=("Symptomatic",)))
    assert ticked.grade == 2
