"""GET /api/v1/complications/?pigsf_event=CODE: the screw-fixation events of the vocabulary."""

from __future__ import annotations

import pytest

from complications.ctcae.pigsf import MUSCULOSKELETAL_OTHER, PIGSF_EVENTS, event_of, specify_text
from complications.models import ComplicationEvent, CtcaeTerm
from tests import factories as f

URL = "/api/v1/complications/"
BY_CODE = {event.code: event for event in PIGSF_EVENTS}


def other_specify(procedure, specify: str, term: str = MUSCULOSKELETAL_OTHER) -> int:
    event = f.complication(procedure, window="delayed", grade=3)
    ComplicationEvent.objects.filter(pk=event.pk).update(
        term=CtcaeTerm.objects.get(code=term), specify=specify
    )
    return event.pk


@pytest.mark.django_db
def test_it_filters_complications_by_screw_fixation_event(api, department) -> None:
    procedure = f.procedure(f.patient(department))
    f.fracture(procedure)
    migration = BY_CODE["PIGSF-MIGRATION"]
    plain = other_specify(procedure, specify_text(migration))
    detailed = other_specify(procedure, specify_text(migration, "into the gluteal muscles"))
    shouted = other_specify(procedure, "SCREW MIGRATION OR BACK-OUT")
    other_specify(procedure, "Screw migration requiring revision")  # free text
    other_specify(procedure, specify_text(BY_CODE["PIGSF-LOOSENING"]))
    # the label under another organ class's term is not the event
    other_specify(procedure, migration.label, term="10047065")

    response = api.get(URL + "?pigsf_event=PIGSF-MIGRATION")

    assert response.status_code == 200, response.json()
    assert {row["id"] for row in response.json()["results"]} == {plain, detailed, shouted}
    # the database applies the core's rule
    assert {
        event.pk
        for event in ComplicationEvent.objects.all()
        if event_of(event.term_id, event.specify) == migration
    } == {plain, detailed, shouted}
    assert api.get(URL + "?pigsf_event=PIGSF-UNKNOWN").status_code == 400
