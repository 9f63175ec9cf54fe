"""``POST /api/v1/auth/token/`` (the contract's token exchange), on named, hashed tokens.

Username and password as before (DRF's ``AuthTokenSerializer``, behind the axes lockout);
each success issues a new token with every scope the role allows
(``services.token_for_credentials``). An account with a confirmed second factor must also
send ``otp`` (a current code, or a recovery code); an account whose role requires a second
factor but has none enrolled is refused, except the API client role (service accounts,
which never sign in to the pages).
"""

from __future__ import annotations

from typing import Any

import django_otp
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from registry import roles
from registry.accounts import services
from registry.accounts.models import LoginMethod
from registry.audit.logins import client_address


def token_exchange(view: Any, request: Request) -> Response:
    serializer = view.get_serializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    user = serializer.validated_data["user"]
    otp = str(request.data.get("otp", "")).replace(" ", "")
    refusal = None
    if services.has_second_factor(user):
        if not otp or django_otp.match_token(user, otp) is None:
            refusal = {"otp": [_("This account needs a current code of its second factor.")]}
    elif (
        services.requires_second_factor(user)
        and not user.groups.filter(name=roles.API_CLIENT).exists()
    ):
        refusal = {
            "otp": [_("This account must enrol a second factor (on its profile page) first.")]
        }
    services.login_record(
        user=user,
        username=user.get_username(),
        method=LoginMethod.TOKEN,
        success=refusal is None,
        address=client_address(request._request),
    )
    if refusal is not None:
        return Response(refusal, status=status.HTTP_400_BAD_REQUEST)
    return Response({"token": services.token_for_credentials(user=user)})
