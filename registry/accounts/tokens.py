"""API tokens: hashed keys, expiry, and scopes checked per method and endpoint.

A key is 40 random hexadecimal characters (the shape DRF's authtoken keys had, so the
keys issued before named tokens existed were carried over unchanged, hashed, by the
migration). Only its SHA-256 is stored. A token's scopes:

- ``read``: safe methods (GET, HEAD, OPTIONS), and the read-only POSTs of
  ``API_TOKEN_READ_ONLY_POSTS`` (the grading preview);
- ``write``: every other method, except on the export endpoints;
- ``export``: the export endpoints (``API_TOKEN_EXPORT_PATHS``), whatever the method.

The scope is checked by the authentication class itself, so that it holds on every
endpoint whatever permission classes a view declares; the role's permissions and the
department scoping still apply on top (a scope never grants what the role lacks).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from registry.accounts.models import ApiToken, Scope

LAST_USE_RESOLUTION_SECONDS = 60


def new_key() -> str:
    return secrets.token_hex(20)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def required_scope(method: str, path: str) -> str:
    """The scope a request needs: ``export`` on an export endpoint, else read or write."""
    if any(path.startswith(prefix) for prefix in settings.API_TOKEN_EXPORT_PATHS):
        return Scope.EXPORT
    if method in permissions.SAFE_METHODS or path in settings.API_TOKEN_READ_ONLY_POSTS:
        return Scope.READ
    return Scope.WRITE


class ScopedTokenAuthentication(authentication.TokenAuthentication):
    """``Authorization: Token <key>``: a known, unrevoked, unexpired token with the scope."""

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user, token = result
        needed = required_scope(request.method or "GET", request.path)
        if needed not in token.scope_list:
            raise exceptions.PermissionDenied(
                _("This token's scope does not allow this request (it needs “%(scope)s”).")
                % {"scope": needed}
            )
        return user, token

    def authenticate_credentials(self, key: str) -> tuple[Any, ApiToken]:
        token = (
            ApiToken.objects.select_related("user")
            .filter(key_hash=key_hash(key), revoked_at__isnull=True)
            .first()
        )
        now = timezone.now()
        if token is None or (token.expires_at is not None and token.expires_at <= now):
            raise exceptions.AuthenticationFailed(_("Invalid or expired token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        # The last use, written at most once a minute per token: one UPDATE on every request
        # (touching no row within the minute), so that a request's queries are a fixed number.
        stale = now - timedelta(seconds=LAST_USE_RESOLUTION_SECONDS)
        ApiToken.objects.filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale), pk=token.pk
        ).update(last_used_at=now)
        return token.user, token
