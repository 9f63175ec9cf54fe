"""Accounts without a browser: the token page and exchange, the second factor's gate,
recovery codes, the idle timeout, the login history, members and invitations, the
provisioning command, the claims' mapping, and the carried-over DRF keys."""

from __future__ import annotations

import io
import re
import time
from datetime import timedelta

import django_otp
import pyotp
import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from registry import roles
from registry.accounts import oidc, services
from registry.accounts.middleware import LAST_ACTIVITY
from registry.accounts.models import AccountEvent, ApiToken, Invitation, LoginEvent
from registry.accounts.tokens import key_hash
from registry.models import Department
from tests import factories
from tests.conftest import PASSWORD, api_client_for

pytestmark = pytest.mark.django_db
TOKENS = "/account/api-token/"
AUTH = "/api/v1/auth/token/"


def logged_in(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def confirmed_device(user) -> TOTPDevice:  # type: ignore[no-untyped-def]
    device = services.totp_start(user=user)
    device.confirmed = True
    device.save()
    return device


def code(device: TOTPDevice) -> str:
    from base64 import b32encode

    return pyotp.TOTP(b32encode(device.bin_key).decode()).now()


# --- API tokens -------------------------------------------------------------------------------


class TestTokenPage:
    def test_a_token_is_shown_once_stored_hashed_listed_and_revocable(self, head):
        client = logged_in(head)
        page = client.post(
            TOKENS,
            {
                "action": "create",
                "name": "nightly",
                "scopes": ["read", "export"],
                "expires_on": "2099-01-01",
            },
        ).content.decode()
        key = re.search(r'id="token-key"[^>]*value="([0-9a-f]{40})"', page).group(1)
        token = ApiToken.objects.get(user=head)
        assert token.key_hash == key_hash(key) and token.scopes == "read export"
        listing = client.get(TOKENS).content.decode()
        assert key not in listing and f"{key[:8]}…" in listing and "nightly" in listing

        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        assert api.get("/api/v1/exports/").status_code == 200
        token.refresh_from_db()
        assert token.last_used_at is not None

        client.post(TOKENS, {"action": "revoke", "token": token.pk})
        assert api.get("/api/v1/exports/").status_code == 401
        assert "revoked" in client.get(TOKENS).content.decode()
        assert [e.action for e in AccountEvent.objects.order_by("pk")] == [
            "token_create",
            "token_revoke",
        ]

    def test_a_scope_beyond_the_role_is_refused_on_the_page(self, radiologist):
        page = logged_in(radiologist).post(
            TOKENS,
            {"action": "create", "name": "x", "scopes": ["export"], "expires_on": "2099-01-01"},
        )
        assert "does not allow the scope" in page.content.decode()
        assert not ApiToken.objects.exists()

    def test_another_users_token_cannot_be_revoked(self, head, radiologist):
        token, _key = services.token_create(user=head, name="h", scopes=["read"], expires_at=None)
        assert (
            logged_in(radiologist).post(TOKENS, {"action": "revoke", "token": token.pk}).status_code
            == 404
        )
        token.refresh_from_db()
        assert token.revoked_at is None


class TestTokenExchange:
    def test_an_enrolled_account_needs_its_code(self, head, second_factor_required):
        device = confirmed_device(head)
        body = {"username": "head", "password": PASSWORD}
        refused = APIClient().post(AUTH, body, format="json")
        assert refused.status_code == 400 and "otp" in refused.json()

        answer = APIClient().post(AUTH, {**body, "otp": code(device)}, format="json")
        assert answer.status_code == 200
        assert ApiToken.objects.get(user=head).scopes == "read export"
        methods = list(LoginEvent.objects.order_by("pk").values_list("method", "success"))
        assert methods == [("token", False), ("token", True)]

    def test_an_account_that_must_enrol_is_refused_until_it_has(self, head, second_factor_required):
        answer = APIClient().post(AUTH, {"username": "head", "password": PASSWORD}, format="json")
        assert answer.status_code == 400 and "enrol" in answer.json()["otp"][0]

    def test_api_clients_keep_the_exchange_as_it_was(self, api_user, second_factor_required):
        answer = APIClient().post(
            AUTH, {"username": "api_user", "password": PASSWORD}, format="json"
        )
        assert answer.status_code == 200

    def test_drf_keys_issued_before_are_carried_over_hashed(self, radiologist):
        from importlib import import_module

        from django.apps import apps
        from rest_framework.authtoken.models import Token

        key = Token.objects.create(user=radiologist).key
        migration = import_module("registry.accounts.migrations.0002_authtoken_keys_hashed")
        migration.carry_over(apps, None)

        assert not Token.objects.exists()
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        assert api.get("/api/v1/patients/").status_code == 200


# --- the second factor ------------------------------------------------------------------------


class TestSecondFactorGate:
    @pytest.mark.parametrize(
        ("persona", "required"),
        [
            ("radiologist", False),
            ("head", True),
            ("data_manager", True),
            ("api_user", True),
            ("admin_user", True),
        ],
    )
    def test_who_needs_it(self, request, persona, required, second_factor_required):
        user = request.getfixturevalue(persona)
        assert services.requires_second_factor(user) is required

    def test_pages_lead_to_the_enrolment_and_the_api_refuses(self, head, second_factor_required):
        client = logged_in(head)
        answer = client.get("/cases/")
        assert answer.status_code == 302 and answer["Location"].startswith("/accounts/2fa/setup/")
        assert client.get("/api/v1/patients/").status_code == 403
        confirmed_device(head)
        assert client.get("/cases/")["Location"].startswith("/accounts/2fa/?next=")

    def test_a_code_opens_the_session(self, head, second_factor_required):
        device = confirmed_device(head)
        client = logged_in(head)
        answer = client.post("/accounts/2fa/", {"code": code(device), "next": "/cases/"})
        assert answer.status_code == 302 and answer["Location"] == "/cases/"
        assert client.get("/cases/").status_code == 200

    def test_a_recovery_code_works_once(self, head, second_factor_required):
        confirmed_device(head)
        codes = services.recovery_codes_renew(user=head)
        assert len(codes) == services.RECOVERY_CODES
        assert django_otp.match_token(head, codes[0]) is not None
        assert django_otp.match_token(head, codes[0]) is None
        assert StaticToken.objects.filter(device__user=head).count() == services.RECOVERY_CODES - 1

    def test_enrolment_confirms_with_a_code_and_replaces_the_old_device(self, head, settings):
        settings.OTP_TOTP_THROTTLE_FACTOR = 0  # no wait after the wrong code
        old = confirmed_device(head)
        new = services.totp_start(user=head)
        with pytest.raises(ValidationError):
            services.totp_confirm(device=new, code="000000" if code(new) != "000000" else "111111")
        codes = services.totp_confirm(device=new, code=code(new))
        assert len(codes) == services.RECOVERY_CODES
        assert list(TOTPDevice.objects.filter(user=head).values_list("pk", flat=True)) == [new.pk]
        assert not TOTPDevice.objects.filter(pk=old.pk).exists()

    def test_an_administrator_resets_a_lost_device_audited(self, head, admin_user, department):
        confirmed_device(head)
        services.recovery_codes_renew(user=head)
        client = logged_in(admin_user)
        client.post(
            f"/accounts/departments/{department.pk}/", {"action": "reset-2fa", "user": head.pk}
        )
        assert not services.has_second_factor(head)
        event = AccountEvent.objects.get(action="second_factor_reset")
        assert (event.actor, event.subject) == (admin_user, "head")

    def test_a_department_head_cannot_reset_it(self, head, radiologist, department):
        confirmed_device(radiologist)
        answer = logged_in(head).post(
            f"/accounts/departments/{department.pk}/",
            {"action": "reset-2fa", "user": radiologist.pk},
        )
        assert answer.status_code == 403
        assert services.has_second_factor(radiologist)


# --- sessions and the login history ------------------------------------------------------------


class TestSessions:
    def test_an_idle_session_ends(self, radiologist, settings):
        settings.SESSION_IDLE_TIMEOUT = 600
        client = logged_in(radiologist)
        assert client.get("/cases/").status_code == 200
        session = client.session
        session[LAST_ACTIVITY] = time.time() - 601
        session.save()
        answer = client.get("/cases/")
        assert answer.status_code == 302 and answer["Location"].startswith("/accounts/login/")

    def test_an_active_session_stays(self, radiologist, settings):
        settings.SESSION_IDLE_TIMEOUT = 600
        client = logged_in(radiologist)
        client.get("/cases/")
        session = client.session
        session[LAST_ACTIVITY] = time.time() - 590
        session.save()
        assert client.get("/cases/").status_code == 200

    def test_the_history_lists_successes_and_failures_with_their_method(self, radiologist):
        client = Client()
        client.post("/accounts/login/", {"username": "radiologist", "password": "wrong"})
        client.post("/accounts/login/", {"username": "radiologist", "password": PASSWORD})
        events = list(LoginEvent.objects.order_by("pk").values_list("method", "success", "address"))
        assert events == [("password", False, "127.0.0.1"), ("password", True, "127.0.0.1")]
        page = client.get("/profile/").content.decode()
        assert page.count("<td>password</td>") == 2 and "failed" in page


# --- members and invitations -------------------------------------------------------------------


class TestMembers:
    def test_a_head_invites_a_colleague_who_creates_an_account(
        self, head, department, django_capture_on_commit_callbacks
    ):
        client = logged_in(head)
        with django_capture_on_commit_callbacks(execute=True):
            client.post(
                f"/accounts/departments/{department.pk}/",
                {"action": "invite", "email": "new@example.org", "role": roles.RADIOLOGIST},
            )
        assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new@example.org"]
        link = re.search(r"https?://\S+/accounts/invitation/\S+/", mail.outbox[0].body).group(0)
        path = link[link.index("/accounts/") :]

        guest = Client()
        assert "as Radiologist" in guest.get(path).content.decode()
        answer = guest.post(path, {"username": "newcomer", "password": "a-long-enough-pass-42"})
        assert answer.status_code == 302
        newcomer = User.objects.get(username="newcomer")
        assert list(newcomer.groups.values_list("name", flat=True)) == [roles.RADIOLOGIST]
        assert list(newcomer.departments.all()) == [department]
        assert guest.get("/cases/").status_code == 200
        assert guest.get(path).status_code == 410  # used
        actions = list(AccountEvent.objects.order_by("pk").values_list("action", flat=True))
        assert actions == ["invite", "user_create", "invitation_accept"]

    def test_an_expired_or_forged_link_is_refused(self, head, department):
        invitation = services.member_invite(
            department=department, email="x@example.org", role="radiologist", actor=head
        )
        link = services.invitation_link(invitation)
        path = link[link.index("/accounts/") :]
        Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        assert Client().get(path).status_code == 410
        assert Client().get(path[:-3] + "xx/").status_code == 410

    def test_removing_a_member_ends_session_and_token_access_at_once(
        self, head, radiologist, department
    ):
        patient = factories.patient(department)
        session = logged_in(radiologist)
        api = api_client_for(radiologist)
        assert session.get("/patients/").content.decode().count(patient.registry_id) >= 1
        assert api.get(f"/api/v1/patients/{patient.pk}/").status_code == 200

        logged_in(head).post(
            f"/accounts/departments/{department.pk}/", {"action": "remove", "user": radiologist.pk}
        )

        assert api.get(f"/api/v1/patients/{patient.pk}/").status_code == 404
        assert patient.registry_id not in session.get("/patients/").content.decode()
        assert session.get(f"/audit/patient/{patient.pk}/").status_code == 404
        event = AccountEvent.objects.get(action="member_remove")
        assert (event.actor, event.subject, event.department) == (head, "radiologist", "A")

    def test_a_head_changes_a_role_within_what_he_may_give(self, head, radiologist, department):
        client = logged_in(head)
        client.post(
            f"/accounts/departments/{department.pk}/",
            {"action": "role", "user": radiologist.pk, "role": roles.DATA_MANAGER},
        )
        assert list(radiologist.groups.values_list("name", flat=True)) == [roles.DATA_MANAGER]
        client.post(
            f"/accounts/departments/{department.pk}/",
            {"action": "role", "user": radiologist.pk, "role": roles.API_CLIENT},
        )
        assert list(radiologist.groups.values_list("name", flat=True)) == [roles.DATA_MANAGER]

    @pytest.mark.parametrize(
        ("persona", "status"),
        [
            ("radiologist", 403),
            ("data_manager", 403),
            ("outsider", 403),
            ("head", 200),
            ("admin_user", 200),
        ],
    )
    def test_who_manages_members(self, request, department, persona, status):
        client = logged_in(request.getfixturevalue(persona))
        assert client.get("/accounts/departments/").status_code == status
        assert client.get(f"/accounts/departments/{department.pk}/").status_code == (
            200 if status == 200 else 404
        )

    def test_a_head_of_a_cannot_manage_b(self, head, other_department):
        assert (
            logged_in(head).get(f"/accounts/departments/{other_department.pk}/").status_code == 404
        )

    def test_a_superuser_creates_a_department(self, admin_user):
        answer = logged_in(admin_user).post(
            "/accounts/departments/", {"code": "LYO", "name": "Lyon"}
        )
        assert answer.status_code == 302
        assert Department.objects.filter(code="LYO").exists()
        assert AccountEvent.objects.filter(action="department_create", department="LYO").exists()


class TestCommand:
    def test_provisioning(self, department, admin_user, django_capture_on_commit_callbacks):
        out = io.StringIO()
        call_command(
            "registry_user",
            "--actor",
            "admin",
            "create",
            "carol",
            "--email",
            "c@example.org",
            "--department",
            "A",
            "--role",
            "radiologist",
            stdout=out,
        )
        carol = User.objects.get(username="carol")
        assert not carol.has_usable_password()
        assert list(carol.departments.all()) == [department]
        call_command("registry_user", "set-role", "carol", "data_manager", stdout=out)
        assert list(carol.groups.values_list("name", flat=True)) == ["data_manager"]
        confirmed_device(carol)
        call_command("registry_user", "reset-2fa", "carol", stdout=out)
        assert not services.has_second_factor(carol)
        call_command("registry_user", "remove", "carol", "--department", "A", stdout=out)
        assert not carol.departments.exists()
        with django_capture_on_commit_callbacks(execute=True):
            call_command(
                "registry_user",
                "invite",
                "d@example.org",
                "--department",
                "A",
                "--role",
                "radiologist",
                stdout=out,
            )
        assert "/accounts/invitation/" in out.getvalue() and len(mail.outbox) == 1
        actions = list(AccountEvent.objects.order_by("pk").values_list("action", "actor_name"))
        assert actions == [
            ("user_create", "admin"),
            ("role_set", "system"),
            ("second_factor_reset", "system"),
            ("member_remove", "system"),
            ("invite", "system"),
        ]

    def test_errors_are_command_errors(self, department):
        from django.core.management.base import CommandError

        with pytest.raises(CommandError, match="No user"):
            call_command("registry_user", "set-role", "nobody", "radiologist")
        with pytest.raises(CommandError, match="No department"):
            call_command("registry_user", "create", "z", "--department", "ZZZ")


# --- the claims' mapping ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({}, []),
        ({"registry_roles": ["A:radiologist"]}, [("A", "radiologist")]),
        ({"registry_roles": "A:data_manager"}, [("A", "data_manager")]),
        ({"registry_roles": ["A:radiologist", "A:radiologist"]}, [("A", "radiologist")]),
        ({"registry_roles": ["A:surgeon"]}, []),  # not a registry role
        ({"registry_roles": ["ZZ:radiologist"]}, []),  # no such department
        ({"registry_roles": ["radiologist"]}, []),  # no department
        ({"groups": ["heads"]}, [("A", "department_head")]),
        ({"groups": ["unknown"]}, []),
        (
            {"groups": ["heads"], "registry_roles": ["B:radiologist"]},
            [("B", "radiologist"), ("A", "department_head")],
        ),
    ],
)
def test_claims_map_to_assignments(department, other_department, settings, claims, expected):
    settings.OIDC_ROLE_MAP = {"heads": ["A:department_head"]}
    assert oidc.assignments(claims) == expected


def test_a_sign_in_sets_roles_and_departments_exactly(radiologist, department, other_department):
    services.assignments_sync(user=radiologist, assignments=[("B", "department_head")])
    assert list(radiologist.groups.values_list("name", flat=True)) == ["department_head"]
    assert list(radiologist.departments.values_list("code", flat=True)) == ["B"]
    services.assignments_sync(user=radiologist, assignments=[("B", "department_head")])
    assert AccountEvent.objects.filter(action="oidc_sync").count() == 1


def test_a_superuser_is_never_taken_over_by_a_provider_account(admin_user, settings, department):
    backend = oidc.RegistryOIDCBackend.__new__(oidc.RegistryOIDCBackend)
    assert not backend.filter_users_by_claims({"preferred_username": "admin"}).exists()
    from django.core.exceptions import SuspiciousOperation

    with pytest.raises(SuspiciousOperation):
        backend.create_user({"preferred_username": "admin", "registry_roles": ["A:radiologist"]})


def test_single_sign_on_is_off_by_default(db):
    client = Client()
    assert client.get("/accounts/sso/start/").status_code == 404
    assert client.get("/accounts/sso/callback/?code=x&state=y").status_code == 404
    page = client.get("/accounts/login/").content.decode()
    assert "hospital account" not in page and 'name="password"' in page
