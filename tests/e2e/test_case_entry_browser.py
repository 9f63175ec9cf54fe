"""Case entry in a real Chromium: keyboard only, the live grade, inline errors, the worklist,
French, and screenshots of the main screens at tablet sizes.

Screenshots go to ``$SCREENSHOT_DIR`` when set (``SCREENSHOT_DIR=docs/screenshots``), else to a
temporary folder: the test always takes them, so a page that fails to render fails the test.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from complications.services import complication_record
from registry.models import FollowUp, Patient, Procedure, Profile
from registry.services import follow_up_create
from tests import factories
from tests.e2e.conftest import TABLET_LANDSCAPE, TABLET_PORTRAIT

pytestmark = pytest.mark.browser

expect = pytest.importorskip("playwright.sync_api").expect


def tab_to(page, selector: str, *, back: bool = False, limit: int = 40) -> None:  # type: ignore[no-untyped-def]
    """Press Tab (Shift+Tab with ``back``) until ``selector`` has the focus, or fail."""
    for _ in range(limit):
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Shift+Tab" if back else "Tab")
    raise AssertionError(f"Tab never reached {selector}")


def type_date(page, day: str) -> None:  # type: ignore[no-untyped-def]
    """Type an ISO date into the focused date field, as the browser shows it (en-US: mm/dd/yyyy)."""
    year, month, date = day.split("-")
    page.keyboard.type(month + date + year)


def type_datetime(page, day: str, clock: str) -> None:  # type: ignore[no-untyped-def]
    """Type into the focused datetime-local (en-US: mm/dd/yyyy, hh:mm AM), then Tab out of it."""
    field = page.evaluate("document.activeElement.id")
    type_date(page, day)
    page.keyboard.press("Tab")  # the year segment takes up to 6 digits: move on explicitly
    hour, minute = map(int, clock.split(":"))
    page.keyboard.type(f"{(hour - 1) % 12 + 1:02d}{minute:02d}" + ("P" if hour >= 12 else "A"))
    for _ in range(4):  # Tab walks the remaining segments, then leaves the field
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") != field:
            return
    raise AssertionError(f"Tab did not leave #{field}")


def a_case(
    department, *, ended_days_ago: float = 3, sex: str = "female", registry_id: str = "CASE-1"
) -> Procedure:  # type: ignore[no-untyped-def]
    start = timezone.now() - timedelta(days=ended_days_ago, minutes=80)
    proc = factories.procedure(
        factories.patient(department, sex=sex, registry_id=registry_id),
        started_at=start,
        minutes=80,
        operator="JG",
    )
    factories.fracture(proc, type="insufficiency", site="sacrum", side="left", screws=2)
    factories.fracture(proc, type="insufficiency", site="sacrum", side="right")
    return proc


def screenshot_dir(tmp_path: Path) -> Path:
    target = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    return target


def test_a_full_case_is_entered_with_the_keyboard_only(open_page, radiologist, department):
    page = open_page(radiologist)
    page.goto("/cases/new/")
    expect(page.locator("#id_registry_id")).to_be_focused()
    keys = page.keyboard
    keys.type("KB-001")
    keys.press("Tab")
    keys.type("F")  # sex: Female
    keys.press("Tab")
    type_date(page, "1950-03-04")
    tab_to(page, "#id_hospital_number")
    keys.type("H-778899")
    keys.press("Tab")
    type_datetime(page, "2025-06-02", "09:15")
    type_datetime(page, "2025-06-02", "10:40")
    expect(page.locator("#id_guidance")).to_be_focused()
    keys.press("Tab")
    keys.type("S")  # anaesthesia: Sedation
    keys.press("Tab")
    keys.type("JG")
    keys.press("Tab")
    for letter in ("I", "S", "L", "O"):  # insufficiency, sacrum, left, osteoporosis
        keys.type(letter)
        keys.press("Tab")
    keys.press("ArrowUp")  # 2 screws
    keys.press("Tab")
    keys.press("Space")  # cement
    tab_to(page, "#add-fracture")
    keys.press("Enter")
    expect(page.locator("#id_fractures-1-type")).to_be_focused()
    for letter in ("I", "S", "R"):
        keys.type(letter)
        keys.press("Tab")
    tab_to(page, "#save-case")
    keys.press("Enter")

    page.wait_for_url(re.compile(r"/cases/\d+/$"))
    expect(page.locator("h1")).to_contain_text("KB-001")
    procedure = Procedure.objects.get(patient__registry_id="KB-001")
    assert procedure.patient.sex == "female" and str(procedure.patient.birth_date) == "1950-03-04"
    assert timezone.localtime(procedure.started_at).strftime("%Y-%m-%d %H:%M") == "2025-06-02 09:15"
    assert (procedure.anesthesia, procedure.guidance, procedure.operator) == (
        "sedation",
        "ct",
        "JG",
    )
    fractures = list(
        procedure.fractures.order_by("id").values_list(
            "side", "screws", "cement_augmented", "aetiology"
        )
    )
    assert fractures == [("left", 2, True, "osteoporosis"), ("right", 1, False, "")]


def test_a_validation_error_is_shown_inline_and_fixed(open_page, radiologist, department):
    page = open_page(radiologist)
    page.goto("/cases/new/")
    page.fill("#id_registry_id", "ERR-1")
    page.select_option("#id_sex", "male")
    page.fill("#id_birth_date", "1960-05-05")
    page.fill("#id_started_at", "2025-06-02T10:00")
    page.fill("#id_ended_at", "2025-06-02T09:00")
    page.select_option("#id_anesthesia", "general")
    page.select_option("#id_fractures-0-type", "pathological")
    page.select_option("#id_fractures-0-site", "acetabulum")
    page.select_option("#id_fractures-0-side", "right")
    page.click("#save-case")
    # crispy-forms puts each error under its field, as error_<n>_<field id>.
    error = page.locator("[id^=error_][id$=_id_ended_at]")
    expect(error).to_contain_text("The procedure cannot end before it starts.")
    expect(page.locator("#id_ended_at")).to_have_class(re.compile("is-invalid"))
    assert not Patient.objects.filter(registry_id="ERR-1").exists()
    # Everything typed is still there: only the wrong field needs fixing.
    expect(page.locator("#id_registry_id")).to_have_value("ERR-1")
    page.fill("#id_ended_at", "2025-06-02T11:00")
    page.locator("#id_ended_at").press("Enter")
    page.wait_for_url(re.compile(r"/cases/\d+/$"))
    assert Procedure.objects.filter(patient__registry_id="ERR-1").count() == 1


def test_the_grade_updates_live_as_facts_are_ticked(open_page, radiologist, department):
    proc = a_case(department)
    page = open_page(radiologist)
    page.goto(f"/cases/{proc.pk}/complications/new/")
    term = page.locator("#id_term")
    expect(term).to_be_focused()
    page.keyboard.type("wound inf")
    expect(page.locator("#term-options [role=option]").first).to_contain_text("Wound infection")
    page.keyboard.press("Enter")
    expect(term).to_have_value("10048038 Wound infection")
    grade = page.locator("#grade-value")
    expect(grade).to_have_text("–")
    keys = page.keyboard

    # Everything from the keyboard: Tab to a checkbox and Space ticks it.
    tab_to(page, "input[name=criteria]")
    keys.press("Space")
    expect(grade).to_have_text("1")
    expect(page.locator("#grade-severity")).to_have_text("minor")
    expect(page.locator("#grade-rationale")).to_contain_text(
        "Localized, local intervention indicated"
    )
    tab_to(page, "#id_life_threatening", back=True)
    keys.press("Space")
    expect(grade).to_have_text("4")
    expect(page.locator("#grade-severity")).to_have_text("major")
    keys.press("Space")
    expect(grade).to_have_text("1")
    tab_to(page, "#id_intervention", back=True)
    keys.type("I")  # Intravenous
    expect(grade).to_have_text("3")
    # The onset (now, prefilled) is three days after the end: the delayed window.
    expect(page.locator("#grade-window")).to_contain_text("Delayed")

    tab_to(page, "#save-complication")
    keys.press("Enter")
    page.wait_for_url(re.compile(rf"/cases/{proc.pk}/#complications$"))
    event = proc.complications.get()
    assert (event.auto_grade, event.window) == (3, "delayed")
    assert event.facts == {
        "intervention": "iv",
        "criteria": ["Localized, local intervention indicated"],
    }


def test_a_date_that_straddles_two_windows_asks_for_the_time_live(
    open_page, radiologist, department
):
    proc = a_case(department, ended_days_ago=0.2)
    page = open_page(radiologist)
    page.goto(f"/cases/{proc.pk}/complications/new/")
    page.keyboard.type("10033425")  # Pain in extremity, by code
    expect(page.locator("#term-options [role=option]").first).to_contain_text("Pain in extremity")
    page.keyboard.press("Enter")
    page.select_option("#id_symptoms", "moderate")
    expect(page.locator("#grade-value")).to_have_text("2")
    page.check("#id_onset_kind_1")  # date only
    page.fill("#id_onset_date", timezone.localdate().isoformat())
    expect(page.locator("#grade-errors")).to_contain_text("give the time of onset")
    page.check("#id_death")
    expect(page.locator("#grade-errors")).to_contain_text("has no grade 5")
    expect(page.locator("#grade-value")).to_have_text("–")


def test_the_worklist_leads_to_the_case_where_the_contact_is_recorded(
    open_page, radiologist, department
):
    proc = a_case(department, ended_days_ago=2)
    page = open_page(radiologist)
    page.goto("/worklist/")
    row = page.locator("tr", has_text="CASE-1")
    expect(row).to_have_count(2)  # two fractures, each without its 24-hour check
    expect(row.first).to_contain_text("overdue")
    row.first.get_by_role("link").click()
    page.wait_for_url(re.compile(rf"/cases/{proc.pk}/#follow-up-form$"))
    page.select_option("#id_kind", "phone")
    page.get_by_role("button", name="Record contact").click()
    page.wait_for_url(re.compile(rf"/cases/{proc.pk}/#follow-ups$"))
    assert set(FollowUp.objects.get().fractures.all()) == set(proc.fractures.all())
    page.goto("/worklist/")
    expect(page.get_by_text("Nothing due")).to_be_visible()


def test_the_interface_is_french_for_a_french_browser_or_profile(
    open_page, radiologist, department
):
    page = open_page(radiologist, locale="fr-FR", extra_http_headers={"Accept-Language": "fr"})
    page.goto("/cases/new/")
    expect(page.locator("h1")).to_contain_text("Nouveau cas")
    expect(page.locator("#save-case")).to_have_text("Enregistrer le cas")
    expect(page.get_by_label("Date de naissance")).to_be_visible()

    english = open_page(radiologist, extra_http_headers={"Accept-Language": "en"})
    english.goto("/cases/")
    english.get_by_role("button", name="FR").click()
    expect(english.locator("h1")).to_contain_text("Cas")
    assert Profile.objects.get(user=radiologist).language == "fr"


def test_screenshots_of_the_main_screens(open_page, radiologist, department, tmp_path):
    out = screenshot_dir(tmp_path)
    proc = a_case(department, ended_days_ago=40, sex="male")
    follow_up_create(
        procedure=proc, contact_at=proc.ended_at + timedelta(hours=20), kind="clinical"
    )
    follow_up_create(procedure=proc, contact_at=proc.ended_at + timedelta(days=30), kind="imaging")
    right = proc.fractures.order_by("id").last()
    complication_record(
        procedure=proc,
        term="10019428",
        facts={"symptoms": "mild"},
        during_procedure=True,
        description="Small haematoma at the entry point.",
    )
    complication_record(
        procedure=proc,
        term="10033425",
        facts={"symptoms": "moderate"},
        onset_at=proc.ended_at + timedelta(hours=6),
        fractures=[right],
    )
    complication_record(
        procedure=proc,
        term="10048038",
        facts={"intervention": "iv", "hospitalization": True},
        onset_at=proc.ended_at + timedelta(days=12),
        outcome="resolved",
    )
    a_case(department, ended_days_ago=2, registry_id="CASE-2")  # due on the worklist

    page = open_page(radiologist, viewport=TABLET_LANDSCAPE)
    page.goto("/cases/new/")
    page.screenshot(path=out / "case-form-1024x768.png", full_page=True)
    page.goto(f"/cases/{proc.pk}/")
    expect(page.locator(".tl-complication")).to_have_count(3)
    page.screenshot(path=out / "case-page-1024x768.png", full_page=True)
    page.goto(f"/cases/{proc.pk}/complications/new/")
    page.keyboard.type("wound inf")
    expect(page.locator("#term-options [role=option]").first).to_be_visible()
    page.keyboard.press("Enter")
    page.select_option("#id_intervention", "iv")
    page.check("#id_hospitalization")
    expect(page.locator("#grade-value")).to_have_text("3")
    page.evaluate("window.scrollTo(0, 0)")  # the grade panel is sticky: show it at the top
    page.screenshot(path=out / "complication-live-grade-1024x768.png", full_page=True)
    page.goto("/worklist/")
    page.screenshot(path=out / "worklist-1024x768.png", full_page=True)
    page.goto("/patients/")
    page.screenshot(path=out / "patients-1024x768.png", full_page=True)

    portrait = open_page(radiologist, viewport=TABLET_PORTRAIT)
    portrait.goto("/cases/new/")
    portrait.screenshot(path=out / "case-form-768x1024.png", full_page=True)
    portrait.goto(f"/cases/{proc.pk}/")
    portrait.screenshot(path=out / "case-page-768x1024.png", full_page=True)
    # Nothing may stick out sideways on a portrait tablet.
    assert portrait.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    french = open_page(radiologist, locale="fr-FR", extra_http_headers={"Accept-Language": "fr"})
    french.goto("/cases/new/")
    expect(french.locator("h1")).to_contain_text("Nouveau cas")
    french.screenshot(path=out / "case-form-fr-1024x768.png", full_page=True)
    french.goto(f"/cases/{proc.pk}/")
    french.screenshot(path=out / "case-page-fr-1024x768.png", full_page=True)

    for name in (
        "case-form-1024x768.png",
        "case-page-1024x768.png",
        "complication-live-grade-1024x768.png",
        "worklist-1024x768.png",
        "case-form-768x1024.png",
        "case-form-fr-1024x768.png",
    ):
        assert (out / name).stat().st_size > 10_000
