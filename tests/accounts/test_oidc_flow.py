"""Single sign-on against a real OpenID provider (tests/oidc_provider/), without a browser:
the authorization-code flow driven by an HTTP client (requests), as a browser would follow it."""

from __future__ import annotations

import re

import pytest
import requests

from registry.accounts.models import AccountEvent, LoginEvent
from tests.accounts.provider import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def sign_in(live_server, username: str) -> tuple[requests.Session, requests.Response]:  # type: ignore[no-untyped-def]
    """Start at the registry, sign in on the provider's page, follow the redirects back."""
    session = requests.Session()
    page = session.get(f"{live_server.url}/accounts/sso/start/", timeout=10)
    assert "Test identity provider" in page.text, page.text[:500]
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    nxt = re.search(r'name="next" value="([^"]*)"', page.text)
    assert csrf and nxt
    answer = session.post(
        page.url,
        data={
            "csrfmiddlewaretoken": csrf.group(1),
            "username": username,
            "password": PASSWORD,
            "next": nxt.group(1).replace("&amp;", "&"),
        },
        headers={"Referer": page.url},
        timeout=10,
    )
    return session, answer


def test_a_mapped_user_signs_in_with_the_roles_the_claims_give(
    live_server,
    department,
    oidc_provider,
) -> None:
    from django.contrib.auth.models import User

    session, answer = sign_in(live_server, "alice")

    assert answer.url.rstrip("/") == live_server.url, answer.url
    alice = User.objects.get(username="alice")
    assert list(alice.groups.values_list("name", flat=True)) == ["radiologist"]
    assert list(alice.departments.values_list("code", flat=True)) == ["A"]
    assert not alice.has_usable_password()
    assert LoginEvent.objects.filter(user=alice, method="oidc", success=True).count() == 1
    assert AccountEvent.objects.filter(subject="alice", action="oidc_sync").exists()
    assert session.get(f"{live_server.url}/cases/", timeout=10).status_code == 200


def test_a_provider_group_maps_through_the_role_map(live_server, department, oidc_provider) -> None:
    from django.contrib.auth.models import User

    _session, answer = sign_in(live_server, "bob")

    assert answer.url.rstrip("/") == live_server.url, answer.url
    bob = User.objects.get(username="bob")
    assert list(bob.groups.values_list("name", flat=True)) == ["department_head"]


def test_a_user_without_a_mapping_is_refused(live_server, department, oidc_provider) -> None:
    from django.contrib.auth.models import User

    session, answer = sign_in(live_server, "mallory")

    assert answer.url.endswith("/accounts/sso/refused/")
    assert answer.status_code == 403
    assert "no role in any department" in answer.text
    assert not User.objects.filter(username="mallory").exists()
    page = session.get(f"{live_server.url}/cases/", timeout=10)
    assert "/accounts/login/" in page.url


def test_refused_sign_ins_never_lock_the_address_out(
    live_server, department, oidc_provider
) -> None:
    """Six refusals from one address (more than AXES_FAILURE_LIMIT), then a mapped user."""
    for _ in range(6):
        _session, answer = sign_in(live_server, "mallory")
        assert answer.url.endswith("/accounts/sso/refused/")

    _session, answer = sign_in(live_server, "alice")

    assert answer.url.rstrip("/") == live_server.url, answer.url
    assert LoginEvent.objects.filter(method="oidc", success=False).count() == 6
