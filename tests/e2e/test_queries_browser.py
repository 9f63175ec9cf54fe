"""A query from opening to closing across two users in a real Chromium: the data
manager opens it on the case page, the radiologist who entered the case finds it on
the worklist and answers, the data manager closes it."""

from __future__ import annotations

from datetime import datetime

import pytest

from registry.models import DataQuery, Procedure
from tests import factories
from tests.factories import PARIS

pytestmark = pytest.mark.browser

expect = pytest.importorskip("playwright.sync_api").expect


def test_a_query_goes_from_opening_to_closing_across_two_users(
    open_page, department, radiologist, data_manager
):
    procedure = Procedure(
        patient=factories.patient(department, registry_id="Q-CASE"),
        started_at=datetime(2020, 3, 4, 9, tzinfo=PARIS),
        ended_at=datetime(2020, 3, 4, 10, tzinfo=PARIS),
        guidance="ct",
        anesthesia="general",
    )
    procedure._history_user = radiologist  # type: ignore[attr-defined]  # who entered it
    procedure.save()
    fracture = factories.fracture(procedure)

    manager = open_page(data_manager)
    manager.goto(f"/cases/{procedure.pk}/")
    manager.select_option("#query-record", f"fracture:{fracture.pk}")
    manager.fill("#query-field", "screws")
    manager.fill("#query-text", "The report says two screws: which is right?")
    manager.click("#open-query")
    expect(manager.locator("#query-status")).to_have_text("open")

    reader = open_page(radiologist)
    reader.goto("/worklist/")
    reader.locator("#my-queries a").first.click()
    expect(reader.locator("#query-thread")).to_contain_text("which is right?")
    reader.fill("#answer-text", "Two screws; corrected on the source record.")
    reader.click("#answer-query")
    expect(reader.locator("#query-status")).to_have_text("answered")
    expect(reader.locator("#close-query")).to_have_count(0)

    # A fresh login: the fixture's one test client logged the manager's session out.
    query_url = reader.url
    manager = open_page(data_manager)
    manager.goto(query_url)
    expect(manager.locator("#query-thread")).to_contain_text("Two screws; corrected")
    manager.fill("#note-text", "Thank you.")
    manager.click("#close-query")
    expect(manager.locator("#query-status")).to_have_text("closed")
    expect(manager.locator("#reopen-query")).to_be_visible()

    query = DataQuery.objects.get()
    assert query.status == "closed"
    assert [m.author for m in query.messages.all()] == [data_manager, radiologist, data_manager]
