"""The dashboard's outcome analyses: the tables beside the charts (their text alternative)."""

from __future__ import annotations

from datetime import date

from complications.ctcae.incidence import aalen_johansen
from tests import factories as f
from tests.api.test_outcome_analyses_api import START
from tests.conftest import PASSWORD


def test_the_dashboard_shows_the_three_analyses_as_tables(client, head, department):
    for hours, dies in ((72, False), (None, True), (None, False)):
        patient = f.patient(department)
        if dies:
            patient.death_date = date(2020, 1, 16)
            patient.save()
        procedure = f.procedure(patient, started_at=START)
        f.fracture(procedure)
        f.follow_up(procedure, hours_after_end=480)
        if hours:
            f.complication(procedure, window="delayed", grade=3, hours_after_end=hours)
    assert client.login(username="head", password=PASSWORD)
    page = client.get("/dashboard/outcomes/").content.decode()
    table = page.split('id="table-incidence"')[1].split("</table>")[0]
    # one event at 3 days, one death at 10 days, one censored at 20: F(30) = 1/3
    expected = aalen_johansen([3, 10 + 1.5 / 24, 20], [1, 2, 0]).at(30)
    assert f"{expected[0]:.4f}" in table and "0.3333" in table
    assert "3 units: 1 with a delayed complication, 1 deaths before any" in table
    funnel = page.split('id="table-funnel"')[1].split("</table>")[0]
    assert ">A</th>" in funnel and "within the limits" in funnel
    assert 'id="risk-not-enough"' in page and "Not enough events" in page
    assert 'id="outcome-analyses-data"' in page
    assert page.count('data-format="svg"') == 2  # no O/E chart without enough events


def test_the_dashboard_links_to_the_analyses_with_its_filters(client, head, department):
    assert client.login(username="head", password=PASSWORD)
    html = client.get("/dashboard/", {"unit": "procedure"}).content.decode()
    assert 'href="/dashboard/outcomes/?unit=procedure"' in html
