"""CIRSE grades and SIR classes from outcome facts, at every boundary."""

from __future__ import annotations

from typing import Any

import pytest

from complications.ctcae import OutcomeFacts, cirse_grade, sir_class

CASES: list[tuple[dict[str, Any], int, str]] = [
    ({"resolved_same_session": True}, 1, "A"),
    ({"resolved_same_session": True, "extra_stay_hours": 0}, 1, "A"),
    ({"resolved_same_session": False}, 2, "A"),
    ({"resolved_same_session": True, "extra_stay_hours": 12}, 2, "B"),
    ({"resolved_same_session": True, "extra_stay_hours": 47.99}, 2, "B"),
    ({"resolved_same_session": True, "extra_stay_hours": 48}, 3, "D"),
    ({"resolved_same_session": True, "extra_stay_hours": 48.01}, 3, "D"),
    ({"resolved_same_session": True, "additional_therapy": "nominal"}, 2, "B"),
    ({"additional_therapy": "therapy"}, 3, "C"),
    ({"additional_therapy": "therapy", "extra_stay_hours": 47.99}, 3, "C"),
    ({"additional_therapy": "therapy", "extra_stay_hours": 48}, 3, "D"),
    ({"additional_therapy": "major"}, 3, "D"),
    ({"higher_level_of_care": True}, 3, "D"),
    ({"sequelae": "mild", "additional_therapy": "major"}, 4, "E"),
    ({"sequelae": "severe"}, 5, "E"),
    ({"death": True, "sequelae": "severe", "extra_stay_hours": 200}, 6, "F"),
]


@pytest.mark.parametrize(("facts", "cirse", "sir"), CASES)
def test_it_derives_cirse_and_sir_from_the_outcome(
    facts: dict[str, Any], cirse: int, sir: str
) -> None:
    outcome = OutcomeFacts(**facts)
    assert cirse_grade(outcome) == cirse
    assert sir_class(outcome) == sir


@pytest.mark.parametrize(
    ("facts", "message"),
    [
        ({"additional_therapy": "surgery"}, "additional_therapy 'surgery' is not one of"),
        ({"sequelae": "moderate"}, "sequelae 'moderate' is not one of none, mild, severe"),
        ({"extra_stay_hours": -1}, "extra_stay_hours must be 0 or more"),
        ({"extra_stay_hours": float("nan")}, "extra_stay_hours must be 0 or more"),
        ({"extra_stay_hours": "12"}, "extra_stay_hours must be a number of hours"),
        ({"extra_stay_hours": True}, "extra_stay_hours must be a number of hours"),
        ({"death": "no"}, "death must be true or false"),
        ({"resolved_same_session": 1}, "resolved_same_session must be true or false"),
    ],
)
def test_it_refuses_outcome_facts_outside_their_scales(facts: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OutcomeFacts(**facts)
