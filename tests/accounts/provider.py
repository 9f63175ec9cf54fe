"""The ``oidc_provider`` fixture: the test OpenID provider (tests/oidc_provider/) in a
subprocess on 127.0.0.1, on a free port, with an RS256 key generated for the run, and the
registry's settings pointed at it for the test (single sign-on on)."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "provider-password-1"
USERS = {
    # A radiologist of department A, by the registry's own claim.
    "alice": {
        "password": PASSWORD,
        "email": "alice@example.org",
        "registry_roles": ["A:radiologist"],
    },
    # A department head of A, through a provider group and OIDC_ROLE_MAP.
    "bob": {"password": PASSWORD, "email": "bob@example.org", "groups": ["registry-heads"]},
    # Known to the provider, with no role in the registry: refused.
    "mallory": {"password": PASSWORD, "email": "mallory@example.org", "groups": ["cafeteria"]},
}
ROLE_MAP = {"registry-heads": ["A:department_head"]}


@dataclass
class Provider:
    url: str
    client_id: str
    client_secret: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture(scope="session")
def _provider_process(live_server, tmp_path_factory) -> Iterator[Provider]:  # type: ignore[no-untyped-def]
    """One provider for the run (the live server, whose callback it knows, is the run's too)."""
    tmp_path = tmp_path_factory.mktemp("oidc-provider")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    client_id, client_secret = "registry", secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "PROVIDER_SECRET_KEY": secrets.token_urlsafe(32),
        "PROVIDER_DB": str(tmp_path / "provider.sqlite3"),
        "PROVIDER_RSA_KEY": _key(),
        "PROVIDER_USERS": json.dumps(USERS),
        "PROVIDER_CLIENT": json.dumps(
            {
                "client_id": client_id,
                "client_secret": client_secret,
                "redirect_uri": f"{live_server.url}/accounts/sso/callback/",
                "post_logout_redirect_uri": f"{live_server.url}/accounts/login/",
            }
        ),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("DATABASE_URL", None)
    log = open(tmp_path / "provider.log", "w+")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.oidc_provider.serve", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/o/.well-known/openid-configuration", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError(f"the test OpenID provider did not start:\n{log.read()}")
            time.sleep(0.2)
        yield Provider(url=url, client_id=client_id, client_secret=client_secret)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def oidc_provider(_provider_process: Provider, settings) -> Provider:  # type: ignore[no-untyped-def]
    """The provider, with the registry's single sign-on pointed at it for this test."""
    url = _provider_process.url
    settings.OIDC_ENABLED = True
    settings.OIDC_RP_CLIENT_ID = _provider_process.client_id
    settings.OIDC_RP_CLIENT_SECRET = _provider_process.client_secret
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{url}/o/authorize/"
    settings.OIDC_OP_TOKEN_ENDPOINT = f"{url}/o/token/"
    settings.OIDC_OP_USER_ENDPOINT = f"{url}/o/userinfo/"
    settings.OIDC_OP_JWKS_ENDPOINT = f"{url}/o/.well-known/jwks.json"
    settings.OIDC_OP_LOGOUT_ENDPOINT = f"{url}/o/logout/"
    settings.OIDC_ROLE_MAP = ROLE_MAP
    settings.AUTHENTICATION_BACKENDS = [
        *settings.AUTHENTICATION_BACKENDS,
        "registry.accounts.oidc.RegistryOIDCBackend",
    ]
    return _provider_process
