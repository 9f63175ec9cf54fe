"""Streaming exports keep memory flat: the peak while consuming the CSV of
20,000 complications is no higher than for 2,000 (one chunk of rows), so it
does not grow with the size of the registry."""

from __future__ import annotations

import tracemalloc
from datetime import datetime, timedelta

import pytest

from complications.exports import CHUNK
from complications.models import ComplicationEvent
from tests import factories as f
from tests.conftest import api_client_for
from tests.factories import PARIS

URL = "/api/v1/export/complications.csv"
SMALL, LARGE = 2_000, 20_000


def bulk(procedure, n: int) -> None:
    fracture = procedure.fractures.get()
    term = f.term()
    events = ComplicationEvent.objects.bulk_create(
        ComplicationEvent(
            procedure=procedure,
            term=term,
            onset_at=procedure.ended_at + timedelta(hours=30 + i % 500),
            auto_grade=1 + i % 4,  # grade 5 needs a death as its outcome
            window="delayed",
            hours_after_end=30.0 + i % 500,
            facts={"symptoms": "mild", "intervention": "oral"},
            grade_rationale="Grade 2: Moderate; minimal, local or noninvasive intervention",
        )
        for i in range(n)
    )
    links = ComplicationEvent.fractures.through
    links.objects.bulk_create(
        links(complicationevent_id=e.pk, fracture_id=fracture.pk) for e in events
    )


def peak_while_streaming(client, **query) -> tuple[int, int]:
    """(peak traced bytes, data lines) while the streamed response is consumed."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        response = client.get(URL, query)
        assert response.status_code == 200
        lines = sum(chunk.count(b"\n") for chunk in response.streaming_content) - 1
        return tracemalloc.get_traced_memory()[1], lines
    finally:
        tracemalloc.stop()


@pytest.mark.django_db
def test_the_peak_does_not_grow_from_2000_to_20000_rows(head, department):
    assert SMALL == CHUNK  # the small export is exactly one chunk of rows
    early = f.procedure(f.patient(department), started_at=datetime(2019, 3, 4, 9, tzinfo=PARIS))
    late = f.procedure(f.patient(department), started_at=datetime(2020, 3, 2, 9, tzinfo=PARIS))
    f.fracture(early)
    f.fracture(late)
    bulk(early, SMALL)
    bulk(late, LARGE - SMALL)
    client = api_client_for(head)

    peak_while_streaming(client, date_to="2019-12-31")  # warm-up: imports, caches, compiled queries
    small, small_lines = peak_while_streaming(client, date_to="2019-12-31")
    large, large_lines = peak_while_streaming(client)

    assert (small_lines, large_lines) == (SMALL, LARGE)
    # Ten times the rows; holding them all would take about ten times the memory.
    assert large < small * 1.5, f"peak {large:,} B for {LARGE:,} rows vs {small:,} B for {SMALL:,}"
