"""Validating the contract's ``facts`` object."""

from __future__ import annotations

import math
from typing import Any

import pytest

from complications.ctcae import ADL, INTERVENTIONS, SYMPTOMS, Facts, FactsError, Term, parse_facts


def test_the_scales_are_ordered_least_to_most() -> None:
    assert SYMPTOMS == ("none", "mild", "moderate", "severe")
    assert INTERVENTIONS == (
        "none", "local", "oral", "iv", "minimally_invasive", "invasive", "urgent",
    )  # fmt: skip
    assert ADL == ("none", "instrumental", "self_care")


def test_it_accepts_every_contract_key() -> None:
    data = {
        "symptoms": "moderate",
        "intervention": "iv",
        "transfusion_units": 2,
        "hospitalization": True,
        "adl": "instrumental",
        "disabling": False,
        "life_threatening": False,
        "death": False,
        "temperature_c": 38.4,
        "fever_hours": 12,
        "hemoglobin_g_dl": 9,
        "criteria": ["Localized"],
    }
    facts = parse_facts(data)
    assert facts == Facts(
        symptoms="moderate",
        intervention="iv",
        transfusion_units=2,
        hospitalization=True,
        adl="instrumental",
        disabling=False,
        life_threatening=False,
        death=False,
        temperature_c=38.4,
        fever_hours=12.0,
        hemoglobin_g_dl=9.0,
        criteria=("Localized",),
    )
    assert isinstance(facts.fever_hours, float)
    assert facts.as_dict() == {**data, "fever_hours": 12.0, "hemoglobin_g_dl": 9.0}


def test_absent_and_null_facts_are_not_recorded() -> None:
    facts = parse_facts({"symptoms": None, "death": None})
    assert facts == Facts()
    assert facts.recorded() == {}
    assert facts.as_dict() == {}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("symptoms", "very", "'very' is not one of none, mild, moderate, severe."),
        ("symptoms", 2, "2 is not one of none, mild, moderate, severe."),
        ("intervention", "IV", "'IV' is not one of none, local, oral, iv, minimally_invasive, "
                               "invasive, urgent."),
        ("adl", "self care", "'self care' is not one of none, instrumental, self_care."),
        ("hospitalization", "yes", "Must be true or false."),
        ("death", 1, "Must be true or false."),
        ("transfusion_units", True, "Must be a whole number."),
        ("transfusion_units", 1.5, "Must be a whole number."),
        ("transfusion_units", "2", "Must be a whole number."),
        ("transfusion_units", -1, "Must be 0 or more."),
        ("temperature_c", "38.5", "Must be a number."),
        ("temperature_c", True, "Must be a number."),
        ("temperature_c", math.nan, "Must be a finite number."),
        ("hemoglobin_g_dl", math.inf, "Must be a finite number."),
        ("temperature_c", 385, "Must be between 10 and 46 degrees C."),
        ("fever_hours", -1, "Must be between 0 and 8760 hours."),
        ("hemoglobin_g_dl", 95, "Must be between 0 and 30 g/dL."),
        ("criteria", "Localized", "Must be a list of clause texts."),
        ("criteria", [3], "Item 1 must be a non-empty clause text."),
        ("criteria", ["Localized", "  "], "Item 2 must be a non-empty clause text."),
        ("hospitalisation", True, "Unknown fact. Known facts: symptoms, intervention, "
                                  "transfusion_units, hospitalization, adl, disabling, "
                                  "life_threatening, death, temperature_c, fever_hours, "
                                  "hemoglobin_g_dl, criteria."),
    ],
)  # fmt: skip
def test_it_refuses_a_wrong_value_under_the_facts_name(key: str, value: Any, message: str) -> None:
    with pytest.raises(FactsError) as caught:
        parse_facts({key: value})
    assert caught.value.errors == {key: [message]}


def test_it_collects_every_error_instead_of_stopping_at_the_first() -> None:
    with pytest.raises(FactsError) as caught:
        parse_facts({"symptoms": "very", "death": "no", "colour": "red", "adl": "none"})
    assert set(caught.value.errors) == {"symptoms", "death", "colour"}
    assert "symptoms" in str(caught.value)


def test_it_refuses_facts_that_are_not_an_object() -> None:
    with pytest.raises(FactsError) as caught:
        parse_facts(["symptoms"])  # type: ignore[arg-type]
    assert caught.value.errors == {"non_field_errors": ["Facts must be an object of named facts."]}


def test_it_matches_criteria_ignoring_case_and_spacing_and_keeps_the_ctcae_wording(
    curated_by_name: dict[str, Term],
) -> None:
    wound = curated_by_name["Wound infection"]
    facts = parse_facts(
        {
            "criteria": [
                "  localized,   LOCAL intervention indicated. ",
                "Localized, local intervention indicated",
            ]
        },
        wound,
    )
    assert facts.criteria == ("Localized, local intervention indicated",)


def test_it_refuses_criteria_that_are_not_clauses_of_the_term(
    curated_by_name: dict[str, Term],
) -> None:
    pain = curated_by_name["Pain in extremity"]
    with pytest.raises(FactsError) as caught:
        parse_facts({"criteria": ["Mild pain", "Localized", "Severe pain and more"]}, pain)
    assert caught.value.errors == {
        "criteria": [
            "'Localized' is not a clause of Pain in extremity.",
            "'Severe pain and more' is not a clause of Pain in extremity.",
        ]
    }
