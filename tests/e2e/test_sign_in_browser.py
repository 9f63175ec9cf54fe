"""Sign-in in a real Chromium: through the test OpenID provider (login, role mapping, logout,
a refused user) and with a password and a TOTP code (the code computed here with pyotp),
including the enrolment of an authenticator from the QR code page's key."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from django.contrib.auth.models import User

from registry.accounts import services as accounts
from registry.accounts.models import LoginEvent
from tests.accounts.provider import PASSWORD as PROVIDER_PASSWORD
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

expect = pytest.importorskip("playwright.sync_api").expect


@pytest.fixture
def new_page(browser, live_server) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """A page with no session; any script or console error fails the test."""
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    errors: list[str] = []
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.console_errors = errors
    yield page
    context.close()
    assert errors == [], f"the browser reported errors: {errors}"


def provider_sign_in(page, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Sign in with your hospital account").click()
    expect(page.get_by_role("heading", name="Test identity provider")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PROVIDER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_single_sign_on_maps_roles_and_logs_out_at_the_provider(
    new_page,
    department,
    oidc_provider,
) -> None:
    page = new_page
    provider_sign_in(page, "alice")

    expect(page.get_by_role("link", name="alice")).to_be_visible()
    # The claim made her a radiologist of A: she may enter cases.
    expect(page.locator("#nav").get_by_role("link", name="New case")).to_be_visible()
    alice = User.objects.get(username="alice")
    assert list(alice.departments.values_list("code", flat=True)) == ["A"]

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    # The provider's session ended too: signing in again asks for the password there.
    page.get_by_role("link", name="Sign in with your hospital account").click()
    expect(page.get_by_role("heading", name="Test identity provider")).to_be_visible()


def test_a_user_with_no_role_is_refused_with_an_explanation(
    new_page, department, oidc_provider
) -> None:
    page = new_page
    provider_sign_in(page, "mallory")

    expect(page.get_by_role("heading", name="Sign-in refused")).to_be_visible()
    expect(page.get_by_text("no role in any department")).to_be_visible()
    # The refusal page answers 403, which Chromium reports on its console: that one is expected.
    assert page.console_errors == [
        "Failed to load resource: the server responded with a status of 403 (Forbidden)"
    ]
    page.console_errors.clear()
    page.goto("/cases/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


def test_password_and_totp(new_page, head, second_factor_required) -> None:
    device = accounts.totp_start(user=head)
    device.confirmed = True
    device.save()
    page = new_page
    page.goto("/cases/")
    page.get_by_label("Username").fill("head")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("heading", name="Second factor")).to_be_visible()
    page.get_by_label("Code").fill(
        "000000" if pyotp.TOTP(_secret(device)).now() != "000000" else "111111"
    )
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text("This code is not valid.")).to_be_visible()
    # django-otp throttles a device after a failure (1 s after the first): wait it out.
    page.wait_for_timeout(1200)

    page.get_by_label("Code").fill(pyotp.TOTP(_secret(device)).now())
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/cases/$"))

    page.goto("/profile/")
    history = page.locator("#login-history")
    expect(history).to_contain_text("password")
    assert LoginEvent.objects.filter(user=head, method="password", success=True).exists()


def test_enrolment_from_the_qr_code_page(new_page, data_manager, second_factor_required) -> None:
    page = new_page
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("data_manager")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # Her role exports data: nothing opens before she sets up a second factor.
    expect(page.get_by_role("heading", name="Set up the second factor")).to_be_visible()
    expect(page.locator("svg")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label("Code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Confirm").click()

    expect(page.get_by_role("heading", name="Recovery codes")).to_be_visible()
    assert page.locator("#recovery-codes li").count() == accounts.RECOVERY_CODES
    page.get_by_role("link", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/$"))  # where she was going
    page.goto("/profile/")
    expect(page.get_by_text("an authenticator app is set up")).to_be_visible()


def _secret(device) -> str:  # type: ignore[no-untyped-def]
    from base64 import b32encode

    return b32encode(device.bin_key).decode()
