"""Browser fixtures: a real headless Chromium (Debian's) driven by Playwright against live_server.

Playwright's sync API runs an event loop in this thread, which makes Django refuse database
access from "async" code; the tests only use the ORM synchronously, so that guard is lifted,
for the browser tests only (set for the whole run it would leak into subprocesses, such as the
``check --deploy`` test, which rightly refuses it).
Each test logs in by handing the browser a session cookie made by Django's test client, so the
tests spend their time on the pages they are about, not on the login form.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import services

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
TABLET_LANDSCAPE = {"width": 1024, "height": 768}
TABLET_PORTRAIT = {"width": 768, "height": 1024}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Browser tests read what the live server wrote, so no test transaction wraps them; the
    # flush that follows each one would also delete the migrations' data (roles, the CTCAE
    # catalogue) for the next, so every live-server test here restores it first.
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents and "live_server" in getattr(item, "fixturenames", ()):
            item.add_marker(
                pytest.mark.django_db(transaction=True, serialized_rollback=True), append=False
            )


@pytest.fixture(autouse=True)
def _allow_sync_orm_beside_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def browser() -> Iterator[Any]:
    """A headless Chromium for this test.

    Headless Chromium formats date and time fields in en-US (mm/dd/yyyy, hh:mm AM) whatever the
    page's or the context's language, so the keyboard tests type those segments. One Playwright
    per test: its sync API owns an event loop while it runs, and one left open for the session
    would break any other test that drives a browser itself.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=services.chromium_path(), args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser, live_server, client):  # type: ignore[no-untyped-def]
    """``open_page(user, locale=..., viewport=...)``: a logged-in page on the live server.

    Any console error or uncaught script error (a Content-Security-Policy violation, a failed
    fetch, a broken script) fails the test at teardown.
    """
    contexts = []
    errors: list[str] = []

    def make(user, *, locale: str = "en-US", viewport: dict[str, int] | None = None, **options):  # type: ignore[no-untyped-def]
        client.force_login(user)
        context = browser.new_context(
            base_url=live_server.url,
            locale=locale,
            viewport=viewport or TABLET_LANDSCAPE,
            timezone_id="Europe/Paris",
            **options,
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
    assert errors == [], f"the browser reported errors: {errors}"
