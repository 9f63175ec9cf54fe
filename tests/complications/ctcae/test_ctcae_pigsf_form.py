"""The case form suggests the screw-fixation events of an "Other, specify" term; free text stays."""

from __future__ import annotations

import pytest
from django.urls import reverse

from complications.ctcae.pigsf import MUSCULOSKELETAL_OTHER, events_for, specify_text
from complications.models import ComplicationEvent
from tests import factories


@pytest.fixture
def case(department):
    proc = factories.procedure(factories.patient(department, sex="male"))
    factories.fracture(proc, side="left")
    return proc


def test_the_term_search_offers_the_events_of_an_other_specify_term(client, radiologist) -> None:
    client.force_login(radiologist)
    (musculoskeletal,) = client.get(reverse("case-terms"), {"q": MUSCULOSKELETAL_OTHER}).json()[
        "results"
    ]
    assert musculoskeletal["specify_options"] == [
        "Screw migration or back-out",
        "Screw loosening",
        "Screw breakage",
        "Non-union or loss of fixation",
    ]
    (pain,) = client.get(reverse("case-terms"), {"q": "10033371"}).json()["results"]
    assert pain["specify_options"] == []


def post(client, case, specify: str):
    return client.post(
        reverse("case-complication-add", args=[case.pk]),
        {
            "term": MUSCULOSKELETAL_OTHER,
            "specify": specify,
            "onset_kind": "during",
            "symptoms": "mild",
            "intervention": "none",
            "outcome": "resolved",
            "relatedness": "definite",
        },
    )


@pytest.mark.parametrize("detail", ["", "backed out 4 mm into the gluteal muscles"])
def test_a_chosen_event_is_saved_as_its_specifying_text(
    client, radiologist, case, detail: str
) -> None:
    client.force_login(radiologist)
    page = client.get(reverse("case-complication-add", args=[case.pk])).content.decode()
    assert 'list="specify-options"' in page and '<datalist id="specify-options">' in page
    (migration, *_rest) = events_for(MUSCULOSKELETAL_OTHER)
    response = post(client, case, specify_text(migration, detail))
    assert response.status_code == 302, response.context["form"].errors
    assert ComplicationEvent.objects.get().specify == specify_text(migration, detail)


def test_the_edit_page_lists_the_events_of_the_recorded_term(client, radiologist, case) -> None:
    client.force_login(radiologist)
    post(client, case, "A free description of something else")
    event = ComplicationEvent.objects.get()
    assert event.specify == "A free description of something else"
    page = client.get(reverse("case-complication-edit", args=[case.pk, event.pk])).content.decode()
    assert '<option value="Screw loosening"></option>' in page
