"""The ``ctcae_coverage`` command: per curated term, the clauses facts reach and the checklist's."""

import io

from django.core.management import call_command


def test_it_lists_each_curated_terms_clauses_by_how_they_are_reached(db) -> None:
    out = io.StringIO()
    call_command("ctcae_coverage", "--curated", "--clauses", stdout=out)
    text = out.getvalue()
    wound = text[text.index("Wound infection") :]
    assert wound.splitlines()[1:3] == [
        "    reached by facts:",
        '      grade 1: Localized, local intervention indicated (assuming "Localized")',
    ]
    fracture = text[text.index("  Fracture  ") :].splitlines()
    assert "    checklist only:" in fracture
    assert "      grade 3: displaced or open wound with bone exposure" in fracture
    assert "Unreachable clauses: none." in text
