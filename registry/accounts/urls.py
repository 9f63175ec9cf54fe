from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from mozilla_django_oidc import views as oidc_views

from registry.accounts import views


def _when_enabled(view):  # type: ignore[no-untyped-def]
    """The provider's pages answer 404 unless single sign-on is configured (OIDC_ENABLED)."""

    @login_not_required
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:  # type: ignore[no-untyped-def]
        if not settings.OIDC_ENABLED:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


urlpatterns = [
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", views.logout_view, name="logout"),
    path(
        "accounts/sso/start/",
        _when_enabled(oidc_views.OIDCAuthenticationRequestView.as_view()),
        name="oidc_authentication_init",
    ),
    path(
        "accounts/sso/callback/",
        _when_enabled(oidc_views.OIDCAuthenticationCallbackView.as_view()),
        name="oidc_authentication_callback",
    ),
    path("accounts/sso/refused/", views.sso_refused, name="sso-refused"),
    path("accounts/2fa/", views.second_factor, name="second-factor"),
    path("accounts/2fa/setup/", views.second_factor_setup, name="second-factor-setup"),
    path("accounts/2fa/recovery-codes/", views.recovery_codes_renew, name="recovery-codes"),
    path("account/api-token/", views.api_tokens, name="account-api-token"),
    path("accounts/departments/", views.departments, name="departments"),
    path("accounts/departments/<int:pk>/", views.department_members, name="department-members"),
    path("accounts/invitation/<str:signed>/", views.invitation_accept, name="invitation-accept"),
]
