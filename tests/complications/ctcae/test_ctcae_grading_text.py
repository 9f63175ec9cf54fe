"""The grading speaks the interface's language: French rationales, warnings and refusals."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import translation
from django.utils.translation import trans_real

from complications import ctcae, grading_text
from complications.services import grading_preview

HYPOTENSION, PAIN_IN_EXTREMITY, FEVER = "10021097", "10033425", "10016558"


def test_every_text_of_the_core_is_marked_for_translation() -> None:
    with translation.override("en"):
        marked = [str(text) for text in grading_text.MARKED]
    assert marked == ctcae.english_texts()


@pytest.fixture
def french():
    call_command("compiletranslations", verbosity=0)
    trans_real._translations = {}
    trans_real._default = None
    with translation.override("fr"):
        yield
    translation.activate(settings.LANGUAGE_CODE)


def test_in_english_the_preview_says_what_the_record_keeps(db) -> None:
    with translation.override("en"):
        result = grading_preview(term=HYPOTENSION, facts={"intervention": "iv"})
    assert result.rationale.startswith(
        'Grade 2: "Non-urgent medical intervention indicated" (intervention: intravenous). '
        'Grade 3 "Medical intervention indicated" reads the same facts'
    )


def test_the_rationale_and_warnings_read_in_french(db, french) -> None:
    result = grading_preview(term=HYPOTENSION, facts={"intervention": "iv", "temperature_c": 38.0})
    assert result.grade == 2
    assert result.rationale.startswith(
        "Grade 2 : « Non-urgent medical intervention indicated » (intervention : intraveineuse). "
        "Le grade 3 « Medical intervention indicated » repose sur les mêmes faits"
    )
    assert "« Non-urgent »" in result.rationale
    assert result.warnings == (
        "Aucun critère de Hypotension n'utilise la donnée saisie « température ».",
    )


@pytest.mark.parametrize(
    ("term", "facts", "french_text"),
    [
        (PAIN_IN_EXTREMITY, {"death": True}, "Les faits indiquent un décès, mais Pain in"),
        (
            FEVER,
            {"temperature_c": 38.2, "criteria": [">40.0 degrees C (>104.0 degrees F) for >24 hrs"]},
            "contredit les faits saisis (température : 38.2 °C). Décochez le critère",
        ),
        (FEVER, {"temperature_c": 40.5}, "demande aussi : durée de la fièvre."),
    ],
)
def test_refusals_read_in_french(db, french, term, facts, french_text) -> None:
    with pytest.raises(ValidationError) as caught:
        grading_preview(term=term, facts=facts)
    assert french_text in caught.value.message_dict["facts"][0]
