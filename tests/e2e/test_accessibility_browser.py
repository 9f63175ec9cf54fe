"""WCAG 2.2 AA in a real Chromium: axe-core on every page each persona reaches, in English and
French, on a desktop and a phone (390x844): no serious or critical finding. Plus what axe cannot
see: a visible keyboard focus, the skip link, focus on the first error after a failed save.

A finding fails the test with one line per rule (page, rule, impact, the elements). The pages
load in a context that bypasses the Content-Security-Policy only so that axe can be injected;
the other browser tests keep the policy on.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from complications.services import complication_record
from registry.services import follow_up_create
from tests.e2e import axe
from tests.e2e.test_case_entry_browser import a_case, screenshot_dir

pytestmark = pytest.mark.browser

expect = pytest.importorskip("playwright.sync_api").expect

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def a_recorded_case(department):  # type: ignore[no-untyped-def]
    """A case with follow-ups and complications, one graded major, so that every page has rows."""
    proc = a_case(department, ended_days_ago=40, sex="male")
    follow_up_create(
        procedure=proc, contact_at=proc.ended_at + timedelta(hours=20), kind="clinical"
    )
    complication_record(
        procedure=proc, term="10019428", facts={"symptoms": "mild"}, during_procedure=True
    )
    complication_record(
        procedure=proc,
        term="10048038",
        facts={"intervention": "iv", "hospitalization": True},
        onset_at=proc.ended_at + timedelta(days=12),
    )
    a_case(department, ended_days_ago=2, registry_id="CASE-2")  # due on the worklist
    return proc


def persona_pages(proc) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """Each persona's pages (the fixture's user name -> paths), the case's own included."""
    event = proc.complications.order_by("id").first()
    fracture = proc.fractures.order_by("id").first()
    follow_up = proc.follow_ups.order_by("id").first()
    case = f"/cases/{proc.pk}"
    common = ["/", "/cases/", "/patients/", "/worklist/", "/dashboard/", "/profile/"]
    return {
        "radiologist": [
            *common,
            "/cases/new/",
            f"{case}/",
            f"{case}/edit/",
            f"{case}/complications/new/",
            f"{case}/complications/{event.pk}/edit/",
            f"{case}/fractures/{fracture.pk}/edit/",
            f"{case}/follow-ups/{follow_up.pk}/edit/",
            f"/patients/{proc.patient_id}/edit/",
            f"{case}/delete/",
            "/account/api-token/",
            "/cases/?date_from=2026-02-01&date_to=2026-01-01",
            "/imports/",
            "/queries/",
        ],
        "head": [
            *common,
            f"{case}/",
            "/dashboard/report/",
            "/dashboard/data-quality/",
            "/dashboard/targets/",
            "/dashboard/outcomes/",
            "/exports/",
            "/exports/codebook/",
            "/freezes/",
            "/accounts/departments/",
        ],
        "data_manager": [
            *common,
            f"{case}/",
            "/exports/",
            "/dashboard/data-quality/",
            f"/audit/procedure/{proc.pk}/",
            "/queries/",
            "/imports/",
        ],
        "admin_user": ["/", "/cases/", f"{case}/", "/dashboard/", "/exports/"],
    }


@pytest.mark.parametrize(
    ("language", "viewport"),
    [("en", DESKTOP), ("fr", PHONE), ("en", PHONE), ("fr", DESKTOP)],
    ids=["en-desktop", "fr-phone", "en-phone", "fr-desktop"],
)
def test_no_serious_accessibility_finding_on_any_page_for_any_persona(
    request, browser, live_server, open_page, a_recorded_case, language, viewport
):
    locale = {"en": "en-GB", "fr": "fr-FR"}[language]
    headers = {"Accept-Language": language}
    problems: list[str] = []

    login = browser.new_context(
        base_url=live_server.url,
        locale=locale,
        viewport=viewport,
        bypass_csp=True,
        extra_http_headers=headers,
    )
    page = login.new_page()
    page.goto("/accounts/login/")
    problems += axe.findings(page)
    page.fill("#id_username", "nobody")
    page.fill("#id_password", "wrong")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    problems += axe.findings(page)
    page.goto("/no-such-page/")  # the 404 page, in the site's layout
    problems += axe.findings(page)
    login.close()

    for persona, paths in persona_pages(a_recorded_case).items():
        user = request.getfixturevalue(persona)
        page = open_page(
            user, locale=locale, viewport=viewport, bypass_csp=True, extra_http_headers=headers
        )
        for path in paths:
            page.goto(path)
            page.wait_for_load_state()
            problems += axe.findings(page)
            if viewport == PHONE:
                overflow = page.evaluate(
                    "document.documentElement.scrollWidth - document.documentElement.clientWidth"
                )
                if overflow > 0:
                    problems.append(f"{page.url}: the page is {overflow}px wider than the phone")
        page.close()

    assert problems == [], "\n".join(problems)


def test_a_failed_save_is_reported_at_once_with_the_focus_on_the_first_error(
    open_page, radiologist, department
):
    page = open_page(radiologist, viewport=DESKTOP, bypass_csp=True)
    page.goto("/cases/new/")
    page.fill("#id_registry_id", "ERR-2")
    page.fill("#id_birth_date", "1850-01-01")
    page.fill("#id_started_at", "2025-06-02T10:00")
    page.fill("#id_ended_at", "2025-06-02T09:00")
    page.select_option("#id_fractures-0-type", "pathological")
    page.select_option("#id_fractures-0-site", "acetabulum")
    page.select_option("#id_fractures-0-side", "right")
    page.fill("#id_fractures-0-screws", "0")
    with page.expect_navigation():
        page.click("#save-case")
    # Focus on the first field in error, every error listed at the top and beside its field.
    expect(page.locator("#id_sex")).to_be_focused()
    summary = page.locator("#form-errors")
    for field in (
        "id_sex",
        "id_birth_date",
        "id_ended_at",
        "id_anesthesia",
        "id_fractures-0-screws",
    ):
        expect(page.locator(f"#{field}")).to_have_class(re.compile("is-invalid"))
    expect(summary.get_by_role("link")).to_have_count(5)
    expect(summary).to_contain_text("before 1900")
    expect(summary).to_contain_text("The procedure cannot end before it starts.")
    assert "Constraint" not in page.content()
    assert axe.findings(page) == []
    # A link of the summary leads to its field.
    summary.get_by_role("link").nth(2).click()
    expect(page.locator("#id_ended_at")).to_be_focused()


def test_the_skip_link_and_the_focus_ring_are_visible(open_page, radiologist, department):
    page = open_page(radiologist, viewport=DESKTOP)
    page.goto("/cases/")
    page.keyboard.press("Tab")
    skip = page.locator("a.skip-link")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # Every focusable control of the menu shows a ring or an outline when focused by keyboard.
    page.goto("/cases/")
    page.keyboard.press("Tab")
    for _ in range(12):
        page.keyboard.press("Tab")
        style = page.evaluate(
            """() => { const s = getComputedStyle(document.activeElement);
                return [document.activeElement.outerHTML.slice(0, 80), s.outlineStyle,
                        s.outlineWidth, s.boxShadow]; }"""
        )
        html, outline, width, shadow = style
        assert (outline != "none" and width != "0px") or shadow != "none", html


def test_on_a_phone_the_case_page_reflows_and_the_live_grade_stays_in_view(
    open_page, radiologist, a_recorded_case
):
    proc = a_recorded_case
    page = open_page(radiologist, viewport=PHONE)
    page.goto(f"/cases/{proc.pk}/")
    width = page.evaluate("document.documentElement.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    edit = page.locator("#complications").get_by_role("link", name="Edit").first
    edit.scroll_into_view_if_needed()
    box = edit.bounding_box()
    assert box is not None and 0 <= box["x"] and box["x"] + box["width"] <= width, box

    page.goto(f"/cases/{proc.pk}/new/".replace("/new/", "/complications/new/"))
    page.keyboard.type("wound inf")
    expect(page.locator("#term-options [role=option]").first).to_be_visible()
    page.keyboard.press("Enter")
    page.locator("#id_intervention").select_option("iv")
    expect(page.locator("#grade-value")).to_have_text("3")
    # Far down the form, the grade is still on screen, above the field being filled.
    page.locator("#id_outcome").scroll_into_view_if_needed()
    panel = page.locator("#grade-panel").bounding_box()
    field = page.locator("#id_outcome").bounding_box()
    assert panel is not None and field is not None
    assert panel["y"] >= -1 and panel["y"] + panel["height"] <= field["y"] + 1, (panel, field)
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_screenshots_on_a_phone_and_in_french(open_page, radiologist, a_recorded_case, tmp_path):
    """Phone (390x844) screenshots of case entry, a case page and the live grade, English and
    French; ``SCREENSHOT_DIR=docs/screenshots`` refreshes the documentation's."""
    out = screenshot_dir(tmp_path)
    proc = a_recorded_case
    for language in ("en", "fr"):
        suffix = "" if language == "en" else "-fr"
        page = open_page(
            radiologist,
            locale={"en": "en-GB", "fr": "fr-FR"}[language],
            viewport=PHONE,
            extra_http_headers={"Accept-Language": language},
        )
        page.goto("/cases/new/")
        page.screenshot(path=out / f"case-form{suffix}-390x844.png", full_page=True)
        page.goto(f"/cases/{proc.pk}/")
        page.screenshot(path=out / f"case-page{suffix}-390x844.png", full_page=True)
        page.goto(f"/cases/{proc.pk}/complications/new/")
        page.keyboard.type("infection de plaie" if language == "fr" else "wound inf")
        expect(page.locator("#term-options [role=option]").first).to_be_visible()
        page.keyboard.press("Enter")
        page.locator("#id_intervention").select_option("iv")
        expect(page.locator("#grade-value")).to_have_text("3")
        page.locator("#id_outcome").scroll_into_view_if_needed()
        page.screenshot(path=out / f"complication-live-grade{suffix}-390x844.png")
        page.close()
    for name in ("case-form-390x844.png", "case-page-fr-390x844.png"):
        assert (out / name).stat().st_size > 10_000
