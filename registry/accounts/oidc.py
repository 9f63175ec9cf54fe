"""Sign-in through the hospital's OpenID Connect provider (mozilla-django-oidc).

Off unless ``OIDC_ENABLED``; configured from the environment (``registry.settings``,
docs/deployment.md). The provider's claims decide who the user is and what they may do:

- the claims are the verified ID token's, completed by the userinfo endpoint's;
- the user name is the claim ``OIDC_USERNAME_CLAIM`` (``preferred_username`` by default);
  an existing registry user of that name is the same person (an account created
  locally before single sign-on was turned on), except an administrator: superusers sign
  in with their local password only, so that a provider account can never become one;
- the roles and departments are *assignments* ``DEPARTMENT_CODE:role``, read from
  - the claim ``OIDC_ROLES_CLAIM`` (``registry_roles`` by default), a list such as
    ``["PAR:radiologist", "LYO:department_head"]``, and
  - the groups claim ``OIDC_GROUPS_CLAIM`` (``groups``) through ``OIDC_ROLE_MAP``,
    ``{"provider group": ["PAR:radiologist", ...]}``, for providers (Entra ID) that
    send groups rather than custom claims.
- at every sign-in the user's roles and memberships are set to exactly those assignments
  (audited when they change); a user with no valid assignment is refused (the refusal page).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest
from django.urls import reverse
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from registry.accounts import services
from registry.models import Department


def assignments(claims: dict[str, Any]) -> list[tuple[str, str]]:
    """The (department code, role) pairs the claims grant, in a stable order, valid ones only."""
    entries: list[str] = []
    direct = claims.get(settings.OIDC_ROLES_CLAIM) or []
    if isinstance(direct, str):
        direct = [direct]
    entries.extend(str(e) for e in direct)
    groups = claims.get(settings.OIDC_GROUPS_CLAIM) or []
    if isinstance(groups, str):
        groups = [groups]
    for group in groups:
        entries.extend(settings.OIDC_ROLE_MAP.get(str(group), []))
    pairs: list[tuple[str, str]] = []
    for entry in entries:
        code, sep, role = entry.partition(":")
        pair = (code.strip(), role.strip())
        if sep and pair[1] in services.ROLES and pair not in pairs:
            pairs.append(pair)
    known = set(
        Department.objects.filter(code__in=[c for c, _r in pairs]).values_list("code", flat=True)
    )
    return [pair for pair in pairs if pair[0] in known]


class RegistryOIDCBackend(OIDCAuthenticationBackend):
    def get_userinfo(self, access_token: str, id_token: str, payload: dict[str, Any]) -> Any:
        """The verified ID token's claims, completed by the userinfo endpoint's: Entra ID puts
        app roles and groups in the ID token only; Keycloak's mappers may fill either."""
        return {**payload, **super().get_userinfo(access_token, id_token, payload)}

    def get_username(self, claims: dict[str, Any]) -> str:
        return str(claims.get(settings.OIDC_USERNAME_CLAIM) or "")[:150]

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        return bool(self.get_username(claims)) and bool(assignments(claims))

    def filter_users_by_claims(self, claims: dict[str, Any]) -> Any:
        username = self.get_username(claims)
        return User.objects.filter(username=username, is_superuser=False, is_active=True)

    def create_user(self, claims: dict[str, Any]) -> User:
        username = self.get_username(claims)
        if User.objects.filter(username=username).exists():
            # A superuser or an inactive account of that name: never taken over.
            raise SuspiciousOperation("the user name belongs to a local account")
        user = services.user_create(username=username, email=str(claims.get("email", "")))
        return self.update_user(user, claims)

    def update_user(self, user: User, claims: dict[str, Any]) -> User:
        services.assignments_sync(user=user, assignments=assignments(claims))
        return user


def is_provider_callback(request: HttpRequest, credentials: Any = None) -> bool:
    """``AXES_WHITELIST_CALLABLE``: the provider's callback is not a password attempt. The
    provider locks out its own failures; counted here, with no username, refused sign-ins
    would lock every provider user behind the same address (a hospital's NAT) out."""
    return getattr(request, "path_info", "") == reverse("oidc_authentication_callback")


def provider_logout_url(request: HttpRequest) -> str | None:
    """The provider's end-session address (RP-initiated logout), if it has one."""
    endpoint = settings.OIDC_OP_LOGOUT_ENDPOINT
    if not endpoint:
        return None
    params = {
        "client_id": settings.OIDC_RP_CLIENT_ID,
        "post_logout_redirect_uri": request.build_absolute_uri(reverse("login")),
    }
    id_token = request.session.get("oidc_id_token")
    if id_token:
        params["id_token_hint"] = id_token
    return f"{endpoint}?{urlencode(params)}"
