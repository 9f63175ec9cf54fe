"""The accounts pages: sign-in and out, the second factor, API tokens, members and invitations.

Thin: each page checks its shape and calls ``registry.accounts.services``.
"""

from __future__ import annotations

from typing import Any

import django_otp
import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import BACKEND_SESSION_KEY, login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from registry import roles
from registry import services as registry_services
from registry.accounts import oidc, services
from registry.accounts.forms import AcceptForm, CodeForm, DepartmentForm, InviteForm, TokenForm
from registry.accounts.models import AccountEvent, ApiToken
from registry.accounts.signals import OIDC_BACKEND
from registry.models import Department
from registry.views import safe_next

ROLE_LABELS = {
    roles.RADIOLOGIST: _("Radiologist"),
    roles.DEPARTMENT_HEAD: _("Department head"),
    roles.DATA_MANAGER: _("Data manager"),
    roles.API_CLIENT: _("API client"),
}


def _errors(error: ValidationError) -> list[str]:
    return [str(m) for m in error.messages]


# --- sign-in and out -------------------------------------------------------------------------


class LoginView(auth_views.LoginView):
    """Django's login page, offering the identity provider first when it is configured;
    the password form stays for break-glass administrators (and registries without one)."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["oidc_enabled"] = settings.OIDC_ENABLED
        return context


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    """Ends the session; after a provider sign-in, the provider's session too when it offers
    an end-session endpoint (RP-initiated logout)."""
    target = None
    if settings.OIDC_ENABLED and request.session.get(BACKEND_SESSION_KEY) == OIDC_BACKEND:
        target = oidc.provider_logout_url(request)
    logout(request)
    return redirect(target or reverse("login"))


@login_not_required
def sso_refused(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/sso_refused.html", status=403)


# --- second factor ---------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def second_factor(request: HttpRequest) -> HttpResponse:
    """The code page after a password sign-in: a TOTP code or a recovery code."""
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = django_otp.match_token(request.user, form.cleaned_data["code"].replace(" ", ""))
        if device is not None:
            django_otp.login(request, device)
            return redirect(safe_next(request, reverse("home")))
        form.add_error("code", _("This code is not valid."))
    return render(
        request,
        "accounts/second_factor.html",
        {"form": form, "next": safe_next(request, reverse("home"))},
    )


@require_http_methods(["GET", "POST"])
def second_factor_setup(request: HttpRequest) -> HttpResponse:
    """Enrolment: a QR code for the authenticator app, confirmed by a first code; then the
    recovery codes, shown once. Replacing a device confirms the new one before the old goes."""
    form = CodeForm(request.POST or None)
    device = None
    pk = request.session.get("accounts_pending_totp")
    if pk:
        device = TOTPDevice.objects.filter(pk=pk, user=request.user, confirmed=False).first()
    if request.method == "POST" and device is not None and form.is_valid():
        try:
            codes = services.totp_confirm(device=device, code=form.cleaned_data["code"])
        except ValidationError as error:
            form.add_error("code", _errors(error))
        else:
            del request.session["accounts_pending_totp"]
            django_otp.login(request, device)
            return render(
                request,
                "accounts/recovery_codes.html",
                {"codes": codes, "next": safe_next(request, reverse("profile"))},
            )
    if device is None or request.method == "GET":
        device = services.totp_start(user=request.user)  # type: ignore[arg-type]
        request.session["accounts_pending_totp"] = device.pk
        form = CodeForm()
    qr = segno.make(device.config_url, error="m")
    return render(
        request,
        "accounts/second_factor_setup.html",
        {
            "form": form,
            "qr_svg": qr.svg_inline(scale=5, title=_("QR code for your authenticator app")),
            "secret": _base32(device),
            "next": safe_next(request, reverse("profile")),
        },
    )


def _base32(device: TOTPDevice) -> str:
    from base64 import b32encode

    return b32encode(device.bin_key).decode()


@require_POST
def recovery_codes_renew(request: HttpRequest) -> HttpResponse:
    if not services.has_second_factor(request.user):
        raise PermissionDenied
    codes = services.recovery_codes_renew(user=request.user)  # type: ignore[arg-type]
    return render(
        request, "accounts/recovery_codes.html", {"codes": codes, "next": reverse("profile")}
    )


# --- API tokens ------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    """The user's named tokens: create one (its key shown once), list them, revoke one."""
    user: Any = request.user
    form = TokenForm(request.POST if request.POST.get("action") == "create" else None)
    created_key = None
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            token = get_object_or_404(ApiToken, pk=request.POST.get("token"), user=user)
            services.token_revoke(token=token, actor=user)
            messages.info(request, _("The token “%(name)s” was revoked.") % {"name": token.name})
            return redirect("account-api-token")
        if form.is_valid():
            try:
                _token, created_key = services.token_create(
                    user=user,
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                    expires_at=form.expires_at(),
                )
            except ValidationError as error:
                for field, problems in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, problems)
            else:
                form = TokenForm()
    return render(
        request,
        "accounts/api_tokens.html",
        {
            "form": form,
            "created_key": created_key,
            "tokens": ApiToken.objects.filter(user=user),
            "role_scopes": services.role_scopes(user),
        },
    )


# --- departments and members -----------------------------------------------------------------


def _managed(user: Any) -> Any:
    """The departments a user manages: every one for a superuser, else those he heads."""
    if user.is_superuser:
        return Department.objects.all()
    if not user.groups.filter(name=roles.DEPARTMENT_HEAD).exists():
        return Department.objects.none()
    return Department.objects.filter(members=user)


def _role_choices(user: Any) -> list[tuple[str, str]]:
    allowed = services.ROLES if user.is_superuser else services.HEAD_ASSIGNABLE
    return [(r, str(ROLE_LABELS[r])) for r in allowed]


@require_http_methods(["GET", "POST"])
def departments(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    managed = _managed(user)
    if not user.is_superuser and not managed.exists():
        raise PermissionDenied
    form = DepartmentForm(request.POST or None) if user.is_superuser else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            try:
                department = registry_services.department_create(**form.cleaned_data)
            except ValidationError as error:
                for field, problems in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, problems)
            else:
                services.audit(actor=user, action="department_create", department=department.code)
                return redirect("department-members", pk=department.pk)
    return render(request, "accounts/departments.html", {"departments": managed, "form": form})


@require_http_methods(["GET", "POST"])
def department_members(request: HttpRequest, pk: int) -> HttpResponse:
    """A department's members and open invitations: invite, change a role, remove a member;
    an administrator also resets a member's second factor (the lost-device path)."""
    user: Any = request.user
    department = _managed(user).filter(pk=pk).first()
    if department is None:
        raise Http404
    invite = InviteForm(
        request.POST if request.POST.get("action") == "invite" else None,
        roles=_role_choices(user),
    )
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "invite":
                if invite.is_valid():
                    services.member_invite(department=department, actor=user, **invite.cleaned_data)
                    messages.success(request, _("The invitation was sent."))
                    return redirect("department-members", pk=pk)
            else:
                member = get_object_or_404(department.members, pk=request.POST.get("user"))
                if action == "role":
                    services.member_set_role(
                        user=member,
                        role=request.POST.get("role", ""),
                        actor=user,
                        department=department,
                    )
                    messages.success(request, _("The role was changed."))
                elif action == "remove":
                    services.member_remove(user=member, department=department, actor=user)
                    messages.success(request, _("The member was removed from the department."))
                elif action == "reset-2fa" and user.is_superuser:
                    services.second_factor_reset(user=member, actor=user)
                    messages.success(request, _("The second factor was reset."))
                else:
                    raise PermissionDenied
                return redirect("department-members", pk=pk)
        except ValidationError as error:
            for message in _errors(error):
                messages.error(request, message)
    members = department.members.order_by("username").prefetch_related(
        Prefetch("groups"), Prefetch("totpdevice_set", TOTPDevice.objects.filter(confirmed=True))
    )
    rows = [
        {
            "user": m,
            "roles": [str(ROLE_LABELS.get(g.name, g.name)) for g in m.groups.all()],
            "second_factor": bool(m.totpdevice_set.all()),
        }
        for m in members
    ]
    return render(
        request,
        "accounts/department_members.html",
        {
            "department": department,
            "rows": rows,
            "invite": invite,
            "role_choices": _role_choices(user),
            "invitations": department.invitations.filter(accepted_at__isnull=True),
            "events": AccountEvent.objects.filter(department=department.code)[:50],
        },
    )


@login_not_required
@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, signed: str) -> HttpResponse:
    """The invitation link: a signed-in user joins at once (after confirming); anyone else
    creates a local account here, or signs in first (through the provider) and comes back."""
    try:
        invitation = services.invitation_from_link(signed)
    except ValidationError as error:
        return render(request, "accounts/invitation.html", {"error": _errors(error)[0]}, status=410)
    user: Any = request.user
    form = None if user.is_authenticated else AcceptForm(request.POST or None)
    if request.method == "POST":
        try:
            if user.is_authenticated:
                services.invitation_accept(invitation=invitation, user=user)
            elif form is not None and form.is_valid():
                new = services.user_create(
                    username=form.cleaned_data["username"],
                    email=invitation.email,
                    password=form.cleaned_data["password"],
                )
                services.invitation_accept(invitation=invitation, user=new)
                login(request, new, backend="django.contrib.auth.backends.ModelBackend")
            else:
                raise ValidationError("")
        except ValidationError as error:
            if form is not None:
                for field, problems in getattr(error, "message_dict", {}).items():
                    form.add_error(field if field in form.fields else None, problems)
        else:
            messages.success(
                request,
                _("Welcome to %(department)s.") % {"department": invitation.department.name},
            )
            return redirect("home")
    return render(
        request,
        "accounts/invitation.html",
        {
            "invitation": invitation,
            "role": ROLE_LABELS.get(invitation.role, invitation.role),
            "form": form,
            "login_url": f"{reverse('login')}?next={request.path}",
        },
    )
