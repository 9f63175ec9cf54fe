"""The statistics' by-term rows: each screw-fixation event is a row of its own."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from django.core.cache import cache
from django.test import Client

from complications import services
from complications.ctcae.pigsf import (
    MUSCULOSKELETAL_OTHER,
    PIGSF_EVENTS,
    PROCEDURAL_OTHER,
    specify_text,
)
from complications.models import CtcaeTerm
from tests import factories as f
from tests.conftest import api_client_for

RATES = "/api/v1/stats/rates/"
BY_CODE = {event.code: event for event in PIGSF_EVENTS}
MIGRATION, CEMENT_LEAK = BY_CODE["PIGSF-MIGRATION"], BY_CODE["PIGSF-CEMENT-LEAK"]
MINOR, MAJOR = {"symptoms": "mild"}, {"hospitalization": True}
MUSCULOSKELETAL = "Musculoskeletal and connective tissue disorders"


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


def record(procedure, term: str, specify: str, facts: dict, *, delayed: bool = True) -> None:
    onset = (
        {"onset_at": procedure.ended_at + timedelta(hours=72)}
        if delayed
        else {"during_procedure": True}
    )
    services.complication_record(
        procedure=procedure, term=term, specify=specify, facts=facts, **onset
    )


@pytest.fixture
def screw_cohort(department):
    """Two fractures, each of its own procedure and patient.

    The first: a major screw migration, a minor one (the same event: one unit, major), and a
    free-text "Other, specify". The second: a minor screw migration and a cement leakage
    during the procedure.
    """
    first, second = (f.procedure(f.patient(department)) for _ in range(2))
    f.fracture(first), f.fracture(second)
    record(first, MUSCULOSKELETAL_OTHER, specify_text(MIGRATION, "into the gluteal muscles"), MAJOR)
    record(first, MUSCULOSKELETAL_OTHER, "SCREW MIGRATION OR BACK-OUT", MINOR)
    record(first, MUSCULOSKELETAL_OTHER, "Screw migration requiring revision", MINOR)
    record(second, MUSCULOSKELETAL_OTHER, specify_text(MIGRATION), MINOR)
    record(second, PROCEDURAL_OTHER, specify_text(CEMENT_LEAK, "into the foramen"), MINOR,
           delayed=False)  # fmt: skip


def counted(rows: list[dict]) -> set[tuple]:
    return {
        (r["window"], r["term"], r["pigsf_event"], r["pigsf_event_label"], r["events"],
         r["minor"], r["major"])
        for r in rows
    }  # fmt: skip


# The rollup (no filter, or whole months), the summary rows (a filter the rollup
# does not keep), and the patient unit (summary rows, counted by patient).
@pytest.mark.django_db
@pytest.mark.parametrize("query", ["", "?guidance=ct", "?unit=patient", "?unit=procedure"])
def test_each_screw_fixation_event_is_a_by_term_row_of_its_own(screw_cohort, head, query):
    body = api_client_for(head).get(RATES + query).json()

    assert counted(body["by_term"]) == {
        ("delayed", MUSCULOSKELETAL_OTHER, "PIGSF-MIGRATION", MIGRATION.label, 2, 1, 1),
        # the free-text "Other, specify" stays in the plain row
        ("delayed", MUSCULOSKELETAL_OTHER, None, None, 1, 1, 0),
        ("per_procedural", PROCEDURAL_OTHER, "PIGSF-CEMENT-LEAK", CEMENT_LEAK.label, 1, 1, 0),
    }
    names = {r["term_name"] for r in body["by_term"] if r["term"] == MUSCULOSKELETAL_OTHER}
    assert names == {CtcaeTerm.objects.get(pk=MUSCULOSKELETAL_OTHER).name}
    # the organ class counts each unit once, whichever of its events it had
    delayed = [r for r in body["by_soc"] if r["window"] == "delayed"]
    assert [(r["soc"], r["events"], r["minor"], r["major"]) for r in delayed] == [
        (MUSCULOSKELETAL, 2, 1, 1)
    ]


@pytest.mark.django_db
def test_the_dashboards_table_by_term_names_each_event_with_its_code(screw_cohort, head):
    client = Client()
    client.force_login(head)

    html = client.get("/dashboard/").content.decode()

    table = html[html.index('id="by-term"') : html.index("</table>", html.index('id="by-term"'))]
    rows = re.findall(r"<tr data-window[^>]*>.*?</tr>", table, re.S)
    cells = [
        " ".join(unescape(re.sub(r"<[^>]+>", " ", cell)).split())
        for row in rows
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)[1:2]
    ]
    other = CtcaeTerm.objects.get(pk=MUSCULOSKELETAL_OTHER).name
    assert f"{MIGRATION.label} PIGSF-MIGRATION · {other}" in cells
    assert other in cells  # the free-text row
    assert 'data-pigsf-event="PIGSF-CEMENT-LEAK"' in table


@pytest.mark.django_db
def test_the_results_paragraph_names_the_screw_fixation_event_not_its_other_specify_term(
    screw_cohort, head
):
    client = Client()
    client.force_login(head)

    html = client.get("/dashboard/report/").content.decode()

    paragraph = " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())
    assert (
        "The most frequent major delayed complication was screw migration or back-out (1/"
    ) in paragraph
