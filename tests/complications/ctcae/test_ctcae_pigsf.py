"""Screw-fixation adverse events: a controlled vocabulary over CTCAE's "Other, specify" terms."""

from __future__ import annotations

import pytest

from complications.ctcae import load_curated_catalogue
from complications.ctcae.pigsf import PIGSF_EVENTS, event_of, events_for, specify_text

BY_CODE = {event.code: event for event in PIGSF_EVENTS}

# (export code, the organ class of the "Other, specify" term it is recorded under)
EXPECTED_SOC = [
    ("PIGSF-MALPOSITION", "Injury, poisoning and procedural complications"),
    ("PIGSF-MIGRATION", "Musculoskeletal and connective tissue disorders"),
    ("PIGSF-LOOSENING", "Musculoskeletal and connective tissue disorders"),
    ("PIGSF-BREAKAGE", "Musculoskeletal and connective tissue disorders"),
    ("PIGSF-CEMENT-LEAK", "Injury, poisoning and procedural complications"),
    ("PIGSF-NONUNION", "Musculoskeletal and connective tissue disorders"),
    ("PIGSF-EMBOLISM", "Vascular disorders"),
]


@pytest.mark.parametrize(("code", "soc"), EXPECTED_SOC)
def test_each_event_is_recorded_under_its_organ_classes_other_specify_term(
    code: str, soc: str
) -> None:
    term = load_curated_catalogue()[BY_CODE[code].term]
    assert term.is_other_specify
    assert term.soc == soc


def test_the_vocabulary_covers_the_issue_and_its_codes_and_labels_are_unique() -> None:
    assert [code for code, _soc in EXPECTED_SOC] == [event.code for event in PIGSF_EVENTS]
    assert len({event.label.casefold() for event in PIGSF_EVENTS}) == len(PIGSF_EVENTS)


@pytest.mark.parametrize("event", PIGSF_EVENTS, ids=lambda event: event.code)
def test_a_specifying_text_reads_back_as_its_event_with_or_without_free_words(event) -> None:
    assert event_of(event.term, specify_text(event)) == event
    text = specify_text(event, "  seen on the 6-week CT ")
    assert text == f"{event.label}: seen on the 6-week CT"
    assert event_of(event.term, text) == event
    assert event_of(event.term, f"{event.label.upper()}:extra") == event
    assert event_of(event.term, f"{event.label} and more") is None


def test_free_text_and_another_terms_label_are_not_events() -> None:
    migration = BY_CODE["PIGSF-MIGRATION"]
    assert event_of(migration.term, "Screw migration requiring revision") is None
    assert event_of(migration.term, "") is None
    assert event_of(BY_CODE["PIGSF-EMBOLISM"].term, "Screw malposition") is None


def test_the_events_of_a_term_are_offered_in_order() -> None:
    musculoskeletal = events_for(BY_CODE["PIGSF-MIGRATION"].term)
    assert [event.code for event in musculoskeletal] == [
        "PIGSF-MIGRATION", "PIGSF-LOOSENING", "PIGSF-BREAKAGE", "PIGSF-NONUNION",
    ]  # fmt: skip
    assert events_for("10033371") == ()  # Pain has its own term
