"""Per-request session rules: the idle timeout and the second factor.

After ``AuthenticationMiddleware`` and django-otp's ``OTPMiddleware``, before the login
requirement:

- a session left idle longer than ``SESSION_IDLE_TIMEOUT`` seconds is ended (the next
  page asks for a new sign-in); the last activity is written at most every
  ``IDLE_RESOLUTION`` seconds, so that not every request saves the session;
- a user whose role requires a second factor (``services.requires_second_factor``) and
  whose session has not passed it reaches only the second-factor pages and the logout:
  pages redirect to the code page (or to the enrolment when no device is confirmed yet),
  the API answers 403. A session opened through the identity provider counts as verified
  when ``OIDC_TRUSTED_FOR_SECOND_FACTOR`` is on (the provider enforces its own MFA);
- with single sign-on, the content security policy lets forms lead to the provider's
  logout page (the logout button's redirect).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import BACKEND_SESSION_KEY, logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from registry.accounts import services
from registry.accounts.signals import LAST_ACTIVITY, OIDC_BACKEND

IDLE_RESOLUTION = 60
OPEN_PATHS = ("/accounts/2fa/", "/accounts/logout/", "/static/", "/i18n/", "/health/")


def second_factor_passed(request: HttpRequest) -> bool:
    user: Any = request.user
    if getattr(user, "is_verified", lambda: False)():
        return True
    return bool(
        settings.OIDC_TRUSTED_FOR_SECOND_FACTOR
        and request.session.get(BACKEND_SESSION_KEY) == OIDC_BACKEND
    )


class AccountSessionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self._respond(request)
        if settings.OIDC_ENABLED and settings.OIDC_OP_LOGOUT_ENDPOINT:
            # The logout form's answer redirects to the provider's end-session page: the
            # content security policy's form-action must allow that origin (django-csp).
            parts = urlsplit(settings.OIDC_OP_LOGOUT_ENDPOINT)
            response._csp_update = {"form-action": [f"{parts.scheme}://{parts.netloc}"]}  # type: ignore[attr-defined]
        return response

    def _respond(self, request: HttpRequest) -> HttpResponse:
        user: Any = getattr(request, "user", None)
        if user is not None and user.is_authenticated and BACKEND_SESSION_KEY in request.session:
            now = time.time()
            last = request.session.get(LAST_ACTIVITY)
            if last is not None and now - last > settings.SESSION_IDLE_TIMEOUT:
                logout(request)
                messages.info(request, _("Your session ended after a period of inactivity."))
                return self.get_response(request)
            if last is None or now - last > IDLE_RESOLUTION:
                request.session[LAST_ACTIVITY] = now
            refused = self._second_factor(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    def _second_factor(self, request: HttpRequest) -> HttpResponse | None:
        if not services.requires_second_factor(request.user) or second_factor_passed(request):
            return None
        path = request.path_info
        if path.startswith(OPEN_PATHS):
            return None
        if path.startswith("/api/"):
            return JsonResponse(
                {"detail": _("This account needs its second factor: sign in again with it.")},
                status=403,
            )
        target = (
            "second-factor" if services.has_second_factor(request.user) else "second-factor-setup"
        )
        return redirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
