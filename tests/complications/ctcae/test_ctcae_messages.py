"""What the grading tells the clinician: facts named as the form names them, in any language."""

from __future__ import annotations

import re

import pytest

from complications.ctcae import (
    FACT_NAMES,
    Facts,
    GradingError,
    Message,
    Term,
    english_texts,
    grade,
)
from complications.ctcae.facts import ADL, INTERVENTIONS, SYMPTOMS
from complications.ctcae.messages import TEMPLATES

# API keys and values that must never reach a clinician.
INTERNAL = re.compile(
    "|".join(
        [*(re.escape(name) for name in FACT_NAMES if "_" in name), r"\bself_care\b"]
        + [r"minimally_invasive", r": iv\b", r"\btrue\b", r"\bfalse\b", r"\bNone\b"]
    )
)


def everything_said(term: Term, facts: Facts) -> list[str]:
    try:
        result = grade(term, facts)
    except GradingError as error:
        return [str(error)]
    return [result.rationale, *result.warnings]


def test_no_rationale_warning_or_refusal_names_a_fact_by_its_api_key(
    curated_by_name: dict[str, Term],
) -> None:
    terms = [
        curated_by_name[name]
        for name in ("Hypotension", "Pain in extremity", "Fever", "Anemia", "Wound infection")
    ]
    extra = [
        Facts(temperature_c=40.5),
        Facts(temperature_c=38.5, fever_hours=12.0, transfusion_units=2, hemoglobin_g_dl=7.5),
        Facts(intervention="minimally_invasive", adl="self_care", disabling=True),
        Facts(death=False, criteria=("Death",)),
    ]
    grid = [
        Facts(symptoms=s, intervention=i, adl=a, life_threatening=lt, hospitalization=h)
        for s in (None, *SYMPTOMS)
        for i in (None, *INTERVENTIONS)
        for a in (None, *ADL)
        for lt in (None, False, True)
        for h in (None, False, True)
    ]
    said = [text for term in terms for facts in [*grid, *extra]
            for text in everything_said(term, facts)]  # fmt: skip
    assert said
    assert [text for text in said if INTERNAL.search(text)] == []


@pytest.mark.parametrize(
    ("name", "facts", "shown"),
    [
        ("Wound infection", Facts(intervention="iv"), "intervention: intravenous"),
        ("Hematoma", Facts(intervention="minimally_invasive"), "intervention: minimally invasive"),
        ("Pain", Facts(adl="self_care"), "ADL limitation: self-care"),
        ("Hypotension", Facts(hospitalization=True), "hospitalisation: yes"),
        ("Anemia", Facts(transfusion_units=2), "red cell units transfused: 2"),
    ],
)
def test_facts_are_named_as_the_form_names_them(
    curated_by_name: dict[str, Term], name: str, facts: Facts, shown: str
) -> None:
    assert shown in grade(curated_by_name[name], facts).rationale


def shout(text: str) -> str:
    """A stand-in language: upper case, placeholders kept."""
    return re.sub(r"(%\(\w+\)s)|([^%]+)", lambda m: m.group(1) or m.group(2).upper(), text)


def test_the_same_result_renders_in_another_language(curated_by_name: dict[str, Term]) -> None:
    result = grade(curated_by_name["Hypotension"], Facts(intervention="iv", temperature_c=38.0))
    shouted = result.rationale_in(shout)
    assert shouted.startswith(
        'GRADE 2: "Non-urgent medical intervention indicated" (INTERVENTION: '
    )
    assert "INTRAVENOUS" in shouted
    assert result.warnings_in(shout) == ("NO CLAUSE OF Hypotension USES THE RECORDED TEMPERATURE.",)
    with pytest.raises(GradingError) as caught:
        grade(curated_by_name["Pain in extremity"], Facts(death=True))
    assert caught.value.render(shout).startswith("THE FACTS RECORD DEATH")


def test_every_template_is_listed_for_translation_and_refuses_unknown_keys() -> None:
    assert set(TEMPLATES.values()) <= set(english_texts())
    with pytest.raises(KeyError):
        Message.of("no such message")
