"""The outcome analyses' charts in a real Chromium: drawn without any console or CSP error,
and downloadable as PNG and SVG."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from complications.outcomes.refresh import outcomes_refresh
from registry import roles
from registry.models import Department, Procedure
from tests.api.test_outcome_analyses_api import _bulk_registry
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

expect = pytest.importorskip("playwright.sync_api").expect


def test_the_three_charts_are_drawn_and_downloadable(open_page, department, other_department):
    third = Department.objects.create(code="C", name="Department C", time_zone="Europe/Paris")
    _bulk_registry(
        {department: 0.45, other_department: 0.12, third: 0.12}, per_department=120, seed=3
    )
    outcomes_refresh(procedure_ids=list(Procedure.objects.values_list("pk", flat=True)))
    coordinator = User.objects.create_user(username="coordinator", password=PASSWORD)
    coordinator.groups.add(Group.objects.get(name=roles.REGISTRY_COORDINATOR))
    page = open_page(coordinator)
    page.goto("/dashboard/outcomes/")
    expect(page.locator("#table-oe")).to_be_visible()
    for chart in ("chart-incidence", "chart-funnel", "chart-oe"):
        assert page.evaluate(f"!!window.outcomeAnalysesCharts['{chart}']")
        svg = page.evaluate(f"window.outcomeAnalysesSvg('{chart}')")
        assert svg.startswith("<svg") and svg.count("<") > 10
        with page.expect_download() as download:
            page.click(f'[data-download="{chart}"][data-format="png"]')
        assert download.value.suggested_filename == f"{chart}.png"
    # the funnel's SVG holds one dot per department, the O/E one bar per row
    assert page.evaluate("window.outcomeAnalysesSvg('chart-funnel')").count("<circle") == 3
    assert page.evaluate("window.outcomeAnalysesSvg('chart-oe')").count("<rect") >= 9
    with page.expect_download() as download:
        page.click('[data-download="chart-funnel"][data-format="svg"]')
    assert download.value.suggested_filename == "chart-funnel.svg"
