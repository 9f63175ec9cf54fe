from __future__ import annotations

from typing import Any

from django.conf import settings
from oauth2_provider.oauth2_validators import OAuth2Validator


class Validator(OAuth2Validator):
    """The claims a hospital provider would send: user name, e-mail, registry roles, groups."""

    oidc_claim_scope = None  # every claim goes out whatever the scopes asked

    def get_additional_claims(self, request: Any) -> dict[str, Any]:
        user = request.user
        entry = settings.PROVIDER_USERS.get(user.username, {})
        claims = {"preferred_username": user.username, "email": user.email}
        for name in ("registry_roles", "groups"):
            if name in entry:
                claims[name] = entry[name]
        return claims
