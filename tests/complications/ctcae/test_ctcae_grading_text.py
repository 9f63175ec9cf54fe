"""The grading speaks the interface's language: French rationales, warnings and refusals, while
the record keeps its rationale in English."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation
from django.utils.translation import trans_real

from complications import ctcae, grading_text
from complications.services import complication_record, grading_preview
from tests import factories
from tests.conftest import api_client_for

HYPOTENSION, PAIN_IN_EXTREMITY, FEVER = "10021097", "10033425", "10016558"
PREVIEW = "/api/v1/grading/preview/"


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


def test_the_preview_endpoint_answers_in_french(db, french, radiologist) -> None:
    api = api_client_for(radiologist)
    response = api.post(
        PREVIEW,
        {"term": HYPOTENSION, "facts": {"intervention": "iv", "temperature_c": 38.0}},
        format="json",
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["grade"] == 2
    assert body["rationale"].startswith(
        "Grade 2 : « Non-urgent medical intervention indicated » (intervention : intraveineuse). "
        "Le grade 3 « Medical intervention indicated » repose sur les mêmes faits"
    )
    assert "« Non-urgent »" in body["rationale"]
    assert body["warnings"] == [
        "Aucun critère de Hypotension n'utilise la donnée saisie « température »."
    ]


def test_the_english_rendering_is_the_cores(db) -> None:
    with translation.override("en"):
        result = grading_preview(term=HYPOTENSION, facts={"intervention": "iv"})
        shown = grading_text.in_active_language(result)
    assert shown.rationale == result.rationale
    assert result.rationale.startswith(
        'Grade 2: "Non-urgent medical intervention indicated" (intervention: intravenous). '
        'Grade 3 "Medical intervention indicated" reads the same facts'
    )


def test_a_complication_saved_in_french_keeps_its_rationale_in_english(db, french, department):
    procedure = factories.procedure(factories.patient(department))
    factories.fracture(procedure)
    event = complication_record(
        procedure=procedure,
        term=HYPOTENSION,
        facts={"intervention": "iv"},
        onset_at=procedure.ended_at + timedelta(hours=1),
    )
    assert event.grade_rationale.startswith(
        'Grade 2: "Non-urgent medical intervention indicated" (intervention: intravenous).'
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


def test_the_case_forms_live_grade_reads_in_french(db, french, client, radiologist, department):
    procedure = factories.procedure(factories.patient(department))
    factories.fracture(procedure)
    client.force_login(radiologist)
    response = client.post(
        reverse("case-complication-preview", args=[procedure.pk]),
        {"term": HYPOTENSION, "onset_kind": "during", "intervention": "iv"},
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    assert response.status_code == 200
    assert response.json()["rationale"].startswith(
        "Grade 2 : « Non-urgent medical intervention indicated » (intervention : intraveineuse)."
    )


def test_the_case_page_shows_a_recorded_rationale_in_french(
    db, french, client, radiologist, department
):
    procedure = factories.procedure(factories.patient(department))
    factories.fracture(procedure)
    with translation.override("en"):
        complication_record(
            procedure=procedure,
            term=HYPOTENSION,
            facts={"intervention": "iv"},
            onset_at=procedure.ended_at + timedelta(hours=1),
        )
    client.force_login(radiologist)
    page = client.get(
        reverse("case-detail", args=[procedure.pk]), HTTP_ACCEPT_LANGUAGE="fr"
    ).content.decode()
    assert "(intervention : intraveineuse)" in page
    assert "(intervention: intravenous)" not in page
