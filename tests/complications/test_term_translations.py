"""CTCAE terms in French where a department has translated them: seeded for the commonest
screw-fixation complications, loaded from a CSV, searched in either language, shown on the
complication form and the case page; grading and storage keep the official English."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from complications.models import CtcaeTermTranslation
from complications.services import complication_record
from tests import factories

WOUND_INFECTION = "10048038"


@pytest.fixture
def as_radiologist(client, radiologist):
    client.force_login(radiologist)
    return client


def test_the_commonest_terms_are_seeded_in_french(db):
    seeded = CtcaeTermTranslation.objects.get(term_id=WOUND_INFECTION, language="fr")
    assert seeded.name == "Infection de plaie"
    assert seeded.grade_1 == "Localisée, traitement local indiqué"
    assert seeded.grade_3.startswith("Antibiotique, antifongique ou antiviral IV indiqué; ")
    # A grade whose clauses are not all translated keeps no half-French text.
    hematoma = CtcaeTermTranslation.objects.get(term_id="10019428", language="fr")
    assert hematoma.grade_2 == "Évacuation ou aspiration mini-invasive indiquée"


@pytest.mark.parametrize(
    ("query", "language", "expected_first"),
    [
        ("plaie", "fr", "Infection de plaie"),
        ("plaie", "en", "Wound infection"),  # found by its French name, shown in English
        ("wound inf", "fr", "Infection de plaie"),  # found by its English name, shown in French
        ("hémat", "fr", "Hématome"),
        ("10048038", "fr", "Infection de plaie"),
    ],
)
def test_terms_are_found_in_either_language(as_radiologist, query, language, expected_first):
    response = as_radiologist.get(
        reverse("case-terms"), {"q": query}, HTTP_ACCEPT_LANGUAGE=language
    )
    results = response.json()["results"]
    names = [r["term"] for r in results]
    assert expected_first in names, names
    if query == "plaie":
        codes = {r["code"] for r in results}
        assert {WOUND_INFECTION, "10053692", "10048031"} <= codes


def test_the_form_shows_french_clauses_and_posts_the_english_ones(as_radiologist):
    results = as_radiologist.get(
        reverse("case-terms"), {"q": WOUND_INFECTION}, HTTP_ACCEPT_LANGUAGE="fr"
    ).json()["results"]
    term = results[0]
    assert term["label"] == f"{WOUND_INFECTION} Infection de plaie"
    assert term["grades"]["1"] == "Localisée, traitement local indiqué"
    assert term["clause_labels"]["Localized, local intervention indicated"] == (
        "Localisée, traitement local indiqué"
    )
    checklist = [clause for _, clauses in term["checklist"] for clause in clauses]
    assert "Localized, local intervention indicated" in checklist  # the value stays English


def test_the_case_page_names_the_complication_in_french(as_radiologist, department):
    proc = factories.procedure(factories.patient(department))
    factories.fracture(proc)
    complication_record(
        procedure=proc,
        term=WOUND_INFECTION,
        facts={"intervention": "iv"},
        onset_at=proc.ended_at + timedelta(days=3),
    )
    french = as_radiologist.get(f"/cases/{proc.pk}/", HTTP_ACCEPT_LANGUAGE="fr").content
    assert "Infection de plaie" in french.decode()
    english = as_radiologist.get(f"/cases/{proc.pk}/", HTTP_ACCEPT_LANGUAGE="en").content
    assert "Wound infection" in english.decode()
    assert proc.complications.get().term.name == "Wound infection"


def test_a_department_loads_its_translations_from_a_csv(db, tmp_path):
    source = tmp_path / "fr.csv"
    source.write_text(
        "code,name,grade_1,clauses\n"
        "10033425,Douleur d'une extrémité,Douleur légère,Mild pain => Douleur légère\n",
        encoding="utf-8",
    )
    call_command("ctcae_translations_load", str(source), "--language", "fr")
    loaded = CtcaeTermTranslation.objects.get(term_id="10033425", language="fr")
    assert (loaded.name, loaded.grade_1) == ("Douleur d'une extrémité", "Douleur légère")
    assert loaded.clauses == {"Mild pain": "Douleur légère"}


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("code,name\n99999999,Inconnu\n", "no CTCAE term '99999999'"),
        ("code,name\n10033425,\n", "the name is empty"),
        ("code,name,clauses\n10033425,Douleur,Mild pain\n", "English => translation"),
        ("name\nDouleur\n", "at least the columns code and name"),
    ],
)
def test_a_faulty_file_loads_nothing(db, tmp_path, content, words):
    source = tmp_path / "fr.csv"
    source.write_text(content, encoding="utf-8")
    before = CtcaeTermTranslation.objects.count()
    with pytest.raises(CommandError, match=words):
        call_command("ctcae_translations_load", str(source), "--language", "fr")
    assert CtcaeTermTranslation.objects.count() == before


def test_the_rationale_quotes_the_clauses_in_french(as_radiologist, department):
    proc = factories.procedure(factories.patient(department))
    factories.fracture(proc)
    complication_record(
        procedure=proc,
        term=WOUND_INFECTION,
        facts={"intervention": "iv"},
        onset_at=proc.ended_at + timedelta(days=3),
    )
    page = as_radiologist.get(f"/cases/{proc.pk}/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Antibiotique, antifongique ou antiviral IV indiqué" in page
    # What is stored stays the official English.
    assert "IV antibiotic" in proc.complications.get().grade_rationale


def test_the_dashboard_names_the_terms_in_french(client, head, department):
    proc = factories.procedure(factories.patient(department))
    factories.fracture(proc)
    complication_record(
        procedure=proc,
        term=WOUND_INFECTION,
        facts={"intervention": "iv"},
        onset_at=proc.ended_at + timedelta(days=3),
    )
    client.force_login(head)
    french = client.get("/dashboard/", HTTP_ACCEPT_LANGUAGE="fr")
    assert [row["term_shown"] for row in french.context["by_term"]] == ["Infection de plaie"]
    assert french.context["dashboard_config"]["termNames"][WOUND_INFECTION] == (
        "Infection de plaie"
    )
    english = client.get("/dashboard/", HTTP_ACCEPT_LANGUAGE="en")
    assert [row["term_shown"] for row in english.context["by_term"]] == ["Wound infection"]
