"""The interface language chosen in the user's profile, over the browser's.

Django's LocaleMiddleware picks the language from the URL, the language
cookie or the browser's Accept-Language header before the user is known. This
middleware runs after authentication and, when the user chose a language in
their profile, activates it for the rest of the request, so a radiologist on a
shared workstation gets their own language whatever the browser says. An
empty choice leaves LocaleMiddleware's decision in place.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation

from registry.models import Profile


class ProfileLanguageMiddleware:
    """Activate ``request.user.profile.language`` when set (one indexed query per request)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            language = Profile.objects.filter(user=user).values_list("language", flat=True).first()
            if language:
                translation.activate(language)
                request.LANGUAGE_CODE = language
        # LocaleMiddleware, further out, then stamps Content-Language with this language.
        return self.get_response(request)
