"""The live dashboard in a real Chromium: a complication recorded in another page shows up on
the department head's open dashboard without a reload, rates and CUSUM chart alike; the
quality alert it raises is listed and acknowledged there. Any console or CSP error fails the
test (``open_page``)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client

from complications import quality
from complications import services as complication_services
from complications.ctcae.pigsf import MUSCULOSKELETAL_OTHER, PIGSF_EVENTS, specify_text
from complications.models import QualityAlert, QualityTarget
from tests.e2e.conftest import TABLET_LANDSCAPE
from tests.e2e.test_case_entry_browser import a_case, screenshot_dir

pytestmark = pytest.mark.browser

expect = pytest.importorskip("playwright.sync_api").expect
MIGRATION = next(event for event in PIGSF_EVENTS if event.code == "PIGSF-MIGRATION")


@pytest.fixture
def second_page(browser, live_server):  # type: ignore[no-untyped-def]
    """``second_page(user)``: a page in a browser context of its own, with its own session.

    ``open_page`` logs every user in through one test client, and logging a second user in
    there ends the first one's session (the open dashboard would get 401s); this context
    gets a session from a client of its own. Its console errors fail the test too.
    """
    contexts, errors = [], []

    def make(user):  # type: ignore[no-untyped-def]
        client = Client()
        client.force_login(user)
        context = browser.new_context(
            base_url=live_server.url,
            locale="en-US",
            viewport=TABLET_LANDSCAPE,
            timezone_id="Europe/Paris",
        )
        context.add_cookies(
            [
                {
                    "name": "sessionid",
                    "value": client.cookies["sessionid"].value,
                    "url": live_server.url,
                }
            ]
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        return page

    yield make
    for context in contexts:
        context.close()
    assert errors == [], f"the second page reported errors: {errors}"


def test_a_complication_recorded_elsewhere_updates_the_open_dashboard(
    open_page, second_page, head, radiologist, department, tmp_path
):
    proc = a_case(department, ended_days_ago=3)  # two fractures, no follow-up contact yet
    QualityTarget.objects.create(
        department=department, window="delayed", target_rate=0.1, odds_ratio=2.0, limit=1.0
    )
    dashboard = open_page(head)
    dashboard.goto(f"/dashboard/?department={department.pk}")
    delayed = dashboard.locator('.card-rate[data-window="delayed"]')
    expect(delayed.locator('[data-field="events"]')).to_have_text("0")
    expect(delayed.locator('[data-field="major"]')).to_have_text("0")
    delayed_cusum = dashboard.locator(
        '.cusum-card[data-window="delayed"] [data-field="cusum-status"]'
    )
    expect(delayed_cusum).to_contain_text("CUSUM now 0.00")
    expect(
        dashboard.locator('.cusum-card[data-window="early"] [data-field="cusum-status"]')
    ).to_have_text("No target set for this window.")
    expect(dashboard.locator("#quality-alerts")).to_have_text("No quality alert.")

    # The radiologist records a major delayed complication in another page (the form).
    entry = second_page(radiologist)
    entry.goto(f"/cases/{proc.pk}/complications/new/")
    entry.keyboard.type("wound inf")
    expect(entry.locator("#term-options [role=option]").first).to_contain_text("Wound infection")
    entry.keyboard.press("Enter")
    entry.select_option("#id_intervention", "iv")
    expect(entry.locator("#grade-value")).to_have_text("3")
    entry.click("#save-complication")
    entry.wait_for_url(re.compile(rf"/cases/{proc.pk}/#complications$"))

    # The open dashboard catches up by itself, within a few seconds.
    expect(delayed.locator('[data-field="events"]')).to_have_text("2", timeout=5000)
    expect(delayed.locator('[data-field="major"]')).to_have_text("2", timeout=5000)
    expect(delayed.locator('[data-field="at_risk"]')).to_have_text("2", timeout=5000)
    expect(delayed_cusum).to_contain_text("CUSUM now 1.20", timeout=5000)
    expect(delayed_cusum).to_contain_text("At or above the limit")
    expect(dashboard.locator("#live-status")).to_contain_text("Updated")

    # The hourly check raises the alert; the head sees it and acknowledges it.
    assert len(quality.quality_check(department=department)) == 1
    dashboard.reload()
    alert = dashboard.locator("#quality-alerts .quality-alert")
    expect(alert).to_have_count(1)
    expect(alert).to_contain_text("A · Delayed (≥ 24 h): CUSUM 1.20 ≥ 1.00 after 2 fractures")
    alert.get_by_role("button", name="Acknowledge").click()
    expect(dashboard.locator("#quality-alerts .quality-alert")).to_contain_text(
        "Acknowledged by head"
    )
    assert QualityAlert.objects.get().acknowledged_by == head
    dashboard.screenshot(
        path=screenshot_dir(tmp_path) / "dashboard-quality-1024x768.png", full_page=True
    )


def test_a_screw_migration_recorded_elsewhere_is_a_row_of_its_own_on_the_open_dashboard(
    open_page, head, department
):
    proc = a_case(department, ended_days_ago=3)
    dashboard = open_page(head)
    dashboard.goto(f"/dashboard/?department={department.pk}")
    expect(dashboard.locator("#by-term tbody")).to_contain_text("No complication")

    complication_services.complication_record(
        procedure=proc,
        term=MUSCULOSKELETAL_OTHER,
        specify=specify_text(MIGRATION, "S1 screw"),
        facts={"symptoms": "mild"},
        onset_at=proc.ended_at + timedelta(hours=30),
    )

    # The script redraws the table: the event's label, its code and its term.
    row = dashboard.locator('#by-term tr[data-pigsf-event="PIGSF-MIGRATION"]')
    expect(row).to_contain_text(MIGRATION.label, timeout=5000)
    expect(row).to_contain_text("PIGSF-MIGRATION · Musculoskeletal")
