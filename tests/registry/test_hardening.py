"""Hardening: login lockout, the content security policy, identifiers kept out of logs,
and a broker outage that fails fast instead of hanging a request."""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import re
import socket
import time
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from registry.logging import MaskIdentifiers, mask_identifiers
from tests.conftest import PASSWORD

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
LOGIN = "/accounts/login/"
TOKEN = "/api/v1/auth/token/"


def _login(client, password: str, address: str = "10.0.0.1"):  # type: ignore[no-untyped-def]
    return client.post(
        LOGIN, {"username": "radiologist", "password": password}, REMOTE_ADDR=address
    )


def _token(client, password: str):  # type: ignore[no-untyped-def]
    return client.post(
        TOKEN, {"username": "radiologist", "password": password}, REMOTE_ADDR="10.0.0.1"
    )


# --- login lockout ---------------------------------------------------------------------------


def test_the_login_page_locks_a_username_out_after_five_failures_from_one_address(
    client, radiologist
):
    failures = [_login(client, "wrong").status_code for _ in range(5)]
    locked = _login(client, PASSWORD)

    assert failures == [200, 200, 200, 200, 429]
    assert locked.status_code == 429
    assert b"Sign-in locked" in locked.content
    assert "_auth_user_id" not in client.session


def test_the_same_username_from_another_address_is_not_locked_out(client, radiologist):
    for _ in range(5):
        _login(client, "wrong")

    assert _login(client, PASSWORD, address="10.0.0.2").status_code == 302


def test_behind_a_proxy_the_address_is_the_one_the_proxy_appended(client, radiologist, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "172.16.0.2"
    for forged in range(5):
        # The attacker forges a new leftmost address each time; the proxy appends the real one.
        client.post(
            LOGIN,
            {"username": "radiologist", "password": "wrong"},
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR=f"10.9.9.{forged}, 203.0.113.7",
        )

    attacker = client.post(
        LOGIN,
        {"username": "radiologist", "password": PASSWORD},
        REMOTE_ADDR=proxy,
        HTTP_X_FORWARDED_FOR="203.0.113.7",
    )
    colleague = client.post(
        LOGIN,
        {"username": "radiologist", "password": PASSWORD},
        REMOTE_ADDR=proxy,
        HTTP_X_FORWARDED_FOR="198.51.100.4",
    )

    assert attacker.status_code == 429
    assert colleague.status_code == 302


def test_the_lock_expires_after_fifteen_minutes(client, radiologist):
    for _ in range(5):
        _login(client, "wrong")
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))

    assert _login(client, PASSWORD).status_code == 302


def test_the_api_token_endpoint_locks_out_too(client, radiologist):
    failures = [_token(client, "wrong").status_code for _ in range(5)]
    locked = _token(client, PASSWORD)

    assert failures == [400] * 5
    assert locked.status_code == 429
    assert b"token" not in locked.content


def test_a_correct_password_before_the_limit_clears_the_failures(client, radiologist):
    for _ in range(4):
        _login(client, "wrong")
    assert _login(client, PASSWORD).status_code == 302
    client.logout()

    assert [_login(client, "wrong").status_code for _ in range(4)] == [200] * 4


# --- content security policy -------------------------------------------------------------------


def _policy(response) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.parametrize("path", [LOGIN, "/", "/cases/", "/dashboard/"])
def test_pages_carry_a_strict_content_security_policy(client, radiologist, path):
    client.force_login(radiologist)
    policy = _policy(client.get(path))

    assert policy["default-src"] == ["'self'"]
    for directive in ("script-src", "style-src"):
        # 'self' and the hashes of the Swagger UI's two inline blocks: no 'unsafe-*', no nonce.
        assert policy[directive][0] == "'self'"
        assert all(source.startswith("'sha256-") for source in policy[directive][1:])
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["frame-ancestors"] == ["'none'"]


# An executable inline script: a <script> without src (json_script's data blocks are
# type="application/json", which browsers never run), or an on* event-handler attribute.
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


def test_no_template_carries_an_inline_script_or_event_handler():
    offenders = [
        str(path.relative_to(TEMPLATES))
        for path in sorted(TEMPLATES.rglob("*.html"))
        if INLINE_SCRIPT.search(path.read_text()) or EVENT_HANDLER.search(path.read_text())
    ]
    assert offenders == []


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_swagger_ui_runs_no_inline_script_and_only_its_hashed_style(client, radiologist):
    """Swagger UI (drf-spectacular) must load its start-up script from this server
    (``SpectacularSwaggerSplitView``: the inline one carries the CSRF token, so no hash can
    allow it) and keeps one inline style block, allowed by its hash in settings; a new
    drf-spectacular version may change it, and then the hash must follow."""
    client.force_login(radiologist)
    response = client.get(reverse("api-docs"))
    html = response.content.decode()

    assert response.status_code == 200
    assert not INLINE_SCRIPT.search(html)
    assert re.search(r'<script src="[^"]*\?script=', html)
    styles = re.findall(r"<style>(.*?)</style>", html, re.S)
    assert _policy(response)["style-src"] == ["'self'", *(_sha256(style) for style in styles)]


# --- identifiers in logs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        (
            '"GET /cases/?q=PIGSF-001&page=2 HTTP/1.1" 200 5120',
            '"GET /cases/?q=***&page=2 HTTP/1.1" 200 5120',
        ),
        (
            "/api/v1/patients/?registry_id=PIG-7&sex=female",
            "/api/v1/patients/?registry_id=***&sex=female",
        ),
        (
            '{"registry_id": "PIG 7", "hospital_number": "0042", "sex": "male"}',
            '{"registry_id": "***", "hospital_number": "***", "sex": "male"}',
        ),
        (
            "{'birth_date': datetime.date(1950, 3, 4), 'sex': 'female'}",
            "{'birth_date': ***, 'sex': 'female'}",
        ),
        (
            "Key (department_id, registry_id)=(3, PIG-7) already exists.",
            "Key (department_id, registry_id)=(***) already exists.",
        ),
        ("Key (code)=(A) already exists.", "Key (code)=(A) already exists."),
        ("GET /dashboard/?freq=2&unit=patient", "GET /dashboard/?freq=2&unit=patient"),
    ],
)
def test_the_filter_masks_identifiers_by_their_names(raw, masked):
    assert mask_identifiers(raw) == masked


def test_request_lines_are_logged_without_identifiers():
    handler = next(
        h
        for h in logging.getLogger("django.server").handlers
        if any(isinstance(f, MaskIdentifiers) for f in h.filters)
    )
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        logging.getLogger("django.server").info(
            '"%s" %s %s', "GET /patients/?q=PIGSF-042 HTTP/1.1", 200, 99
        )
        try:
            raise ValueError("birth_date=1950-03-04 is after the procedure")
        except ValueError:
            logging.getLogger("registry").exception("refused registry_id=PIGSF-042")
    finally:
        handler.setStream(previous)

    written = stream.getvalue()
    assert "GET /patients/?q=*** HTTP/1.1" in written
    assert "refused registry_id=***" in written and "birth_date=***" in written
    assert "PIGSF-042" not in written and "1950-03-04" not in written


@pytest.mark.parametrize("name", ["django", "django.server", "gunicorn.access"])
def test_every_logger_that_writes_requests_goes_through_the_mask(name):
    # pytest adds capturing handlers of its own during the run; only the project's count.
    handlers = [
        h for h in logging.getLogger(name).handlers if not type(h).__module__.startswith("_pytest")
    ]
    assert handlers
    assert all(any(isinstance(f, MaskIdentifiers) for f in h.filters) for h in handlers)


# --- broker outage --------------------------------------------------------------------------------


def test_a_broker_that_does_not_answer_makes_delay_fail_within_seconds():
    """A silent broker (accepts, never answers) is the slow case; a refused one fails at once."""
    from registry.celery import app
    from registry.tasks import worker_health

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
    app.conf.task_always_eager = False
    started = time.monotonic()
    try:
        with app.connection_for_write(url) as conn, pytest.raises(OperationalError):
            worker_health.apply_async(connection=conn)
    finally:
        app.conf.task_always_eager = True
        silent.close()
    assert time.monotonic() - started < 10
