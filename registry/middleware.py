"""Login in front of everything.

Django's own LoginRequiredMiddleware guards every page; views that must stay
public (login, health check) carry ``@login_not_required``. The REST API is
left to DRF, which authenticates tokens itself and answers 401/403 as clients
expect instead of redirecting them to an HTML login page.
"""

from __future__ import annotations

from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired


class LoginRequiredMiddleware(DjangoLoginRequired):
    api_prefix = "/api/"

    def process_view(self, request, view_func, view_args, view_kwargs):  # type: ignore[no-untyped-def]
        if request.path_info.startswith(self.api_prefix):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
