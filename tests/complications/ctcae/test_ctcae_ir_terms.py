"""Terms an interventional radiology department meets, graded as their CTCAE v5.0 text reads."""

from __future__ import annotations

from typing import Any

import pytest

from complications.ctcae import GradingError, Term, grade, parse_facts

# (term, facts, expected grade); each row cites the clause of the CTCAE text that decides it.
IR_CASES: list[tuple[str, dict[str, Any], int]] = [
    # 2 "Symptomatic; intervention indicated" (a chest drain), 3 "... hospitalization indicated"
    ("Pneumothorax", {"symptoms": "mild", "intervention": "minimally_invasive"}, 2),
    ("Pneumothorax", {"hospitalization": True}, 3),
    ("Pneumothorax", {"intervention": "invasive"}, 3),  # "Sclerosis and/or operative ..."
    ("Pneumothorax", {"symptoms": "none", "intervention": "none"}, 1),
    # 2 "Symptomatic, intervention not indicated", 3 "Symptomatic, intervention indicated"
    ("Sinus bradycardia", {"symptoms": "mild", "intervention": "none"}, 2),
    ("Sinus bradycardia", {"symptoms": "mild", "intervention": "iv"}, 3),
    ("Sinus bradycardia", {"criteria": ["change in medication initiated"]}, 2),
    # 2 "...non-urgent medical intervention indicated", 3 "Urgent medical intervention indicated"
    ("Sinus tachycardia", {"intervention": "oral"}, 2),
    ("Sinus tachycardia", {"intervention": "urgent"}, 3),
    ("Bronchospasm", {"symptoms": "mild", "intervention": "none"}, 1),
    ("Bronchospasm", {"intervention": "iv"}, 2),  # "medical intervention indicated"
    ("Bronchospasm", {"criteria": ["supplemental oxygen indicated"]}, 3),
    ("Bronchospasm", {"intervention": "urgent"}, 4),
    ("Laryngospasm", {"intervention": "none"}, 2),  # "Transient episode; intervention not ..."
    ("Laryngospasm", {"intervention": "local"}, 3),  # "noninvasive intervention indicated"
    ("Laryngospasm", {"intervention": "urgent"}, 4),
    ("Dyspnea", {"adl": "instrumental"}, 2),
    ("Dyspnea", {"criteria": ["Shortness of breath at rest"]}, 3),
    ("Pulmonary edema", {"intervention": "oral"}, 2),  # "medical intervention indicated"
    ("Pulmonary edema", {"intervention": "urgent"}, 4),
    ("Headache", {"symptoms": "severe"}, 3),  # "Severe pain"
    ("Agitation", {"criteria": ["Severe agitation"]}, 3),
    ("Agitation", {"life_threatening": True}, 4),
    ("Somnolence", {"adl": "instrumental"}, 2),
    ("Somnolence", {"criteria": ["Obtundation or stupor"]}, 3),
    ("Depressed level of consciousness", {"intervention": "urgent"}, 4),
    ("Depressed level of consciousness", {"criteria": ["Difficult to arouse"]}, 3),
    # fluoroscopy dose: grade 1 "Faint erythema or dry desquamation"
    ("Dermatitis radiation", {"criteria": ["Faint erythema or dry desquamation"]}, 1),
    ("Dermatitis radiation", {"life_threatening": True}, 4),
    ("INR increased", {"criteria": [">1.5 - 2.5"]}, 2),
    ("Activated partial thromboplastin time prolonged", {"criteria": [">2.5 x ULN"]}, 3),
    # 3 "Severe symptoms; limiting self care ADL; repair or revision indicated"
    ("Injury to inferior vena cava", {"intervention": "invasive"}, 3),
    ("Injury to inferior vena cava", {"symptoms": "none", "intervention": "none"}, 1),
    ("Injury to inferior vena cava", {"death": True}, 5),
    ("Skin induration", {"adl": "self_care"}, 3),
    ("Skin induration", {"criteria": ["Generalized"]}, 4),
]


@pytest.mark.parametrize(("name", "facts", "expected"), IR_CASES)
def test_an_ir_term_grades_as_its_ctcae_text_reads(
    curated_by_name: dict[str, Term], name: str, facts: dict[str, Any], expected: int
) -> None:
    term = curated_by_name[name]
    assert grade(term, parse_facts(facts, term)).grade == expected


def test_agitation_without_hospitalisation_alone_is_not_grade_3(
    curated_by_name: dict[str, Term],
) -> None:
    # grade 3 "Severe agitation; hospitalization not indicated": the negative clause only
    # qualifies its neighbour (Grading conventions, rule 6)
    with pytest.raises(GradingError, match="Facts fit no grade of Agitation"):
        grade(curated_by_name["Agitation"], parse_facts({"hospitalization": False}))


@pytest.mark.parametrize(
    ("name", "facts"),
    [("Sinus tachycardia", {"death": True}), ("Headache", {"life_threatening": True})],
)
def test_an_ir_term_refuses_a_grade_it_lacks(
    curated_by_name: dict[str, Term], name: str, facts: dict[str, Any]
) -> None:
    with pytest.raises(GradingError) as caught:
        grade(curated_by_name[name], parse_facts(facts))
    assert caught.value.reason == "beyond_term"
