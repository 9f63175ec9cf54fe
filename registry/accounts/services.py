"""Every write to an account: tokens, second factors, roles, memberships, invitations.

Keyword-only functions, one transaction each, errors as ``ValidationError``; each
records an ``AccountEvent`` naming who did it (``actor``; ``None`` for the system:
a provisioning command run without ``--actor``, a sign-in through the provider).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from registry import roles
from registry.accounts import tokens
from registry.accounts.models import (
    AccountEvent,
    ApiToken,
    Invitation,
    LoginEvent,
    Scope,
)
from registry.models import Department

ROLES = (roles.RADIOLOGIST, roles.DEPARTMENT_HEAD, roles.DATA_MANAGER, roles.API_CLIENT)
# What a department head may give a colleague (an API client is an administrator's business).
HEAD_ASSIGNABLE = (roles.RADIOLOGIST, roles.DATA_MANAGER, roles.DEPARTMENT_HEAD)
INVITATION_SALT = "registry.accounts.invitation"
RECOVERY_CODES = 10


def _name(user: Any) -> str:
    return user.get_username() if user is not None else "system"


def audit(
    *, actor: Any, action: str, subject: str = "", department: str = "", **detail: Any
) -> AccountEvent:
    return AccountEvent.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        actor_name=_name(actor),
        action=action,
        subject=subject,
        department=department,
        detail=detail,
    )


# --- login history --------------------------------------------------------------------------


def login_record(
    *, user: Any, username: str, method: str, success: bool, address: str | None
) -> LoginEvent:
    return LoginEvent.objects.create(
        user=user if user is not None and user.pk else None,
        username=username[:150],
        method=method,
        success=success,
        address=address or None,
    )


# --- API tokens -----------------------------------------------------------------------------


def role_scopes(user: User) -> list[str]:
    """The scopes a user's role could use: read always; write and export if it may."""
    scopes = [Scope.READ.value]
    if user.is_superuser or any(
        user.has_perm(f"{app}.{action}_{model}")
        for app, models in roles.CLINICAL_MODELS.items()
        for model in models
        for action in ("add", "change", "delete")
    ):
        scopes.append(Scope.WRITE.value)
    if user.has_perm("registry.export_data"):
        scopes.append(Scope.EXPORT.value)
    return scopes


@transaction.atomic
def token_create(
    *,
    user: User,
    name: str,
    scopes: Iterable[str],
    expires_at: datetime | None,
    actor: Any = None,
    key: str | None = None,
) -> tuple[ApiToken, str]:
    """A new token and its key (the only time the key exists in clear)."""
    chosen = {Scope.READ.value, *scopes}
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = [_("Give the token a name.")]
    unknown = chosen - set(Scope.values)
    if unknown:
        errors["scopes"] = [_("Unknown scope: %(scope)s.") % {"scope": ", ".join(sorted(unknown))}]
    beyond = chosen - set(role_scopes(user)) - unknown
    if beyond:
        errors.setdefault("scopes", []).append(
            _("Your role does not allow the scope: %(scope)s.")
            % {"scope": ", ".join(sorted(beyond))}
        )
    if expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = [_("The expiry must be in the future.")]
    if errors:
        raise ValidationError(errors)
    key = key or tokens.new_key()
    token = ApiToken.objects.create(
        user=user,
        name=name.strip()[:80],
        prefix=key[:8],
        key_hash=tokens.key_hash(key),
        scopes=" ".join(s for s in Scope.values if s in chosen),
        expires_at=expires_at,
    )
    audit(
        actor=actor or user,
        action="token_create",
        subject=user.get_username(),
        token=token.prefix,
        name=token.name,
        scopes=token.scopes,
        expires_at=expires_at.isoformat() if expires_at else None,
    )
    return token, key


def token_for_credentials(*, user: User) -> str:
    """``POST /api/v1/auth/token/``: a new token with every scope the user's role allows.

    Keys are stored hashed, so an earlier key cannot be handed out again: each exchange
    issues a token of its own (listed on the tokens page, revocable there), valid for
    ``API_TOKEN_DEFAULT_DAYS`` days (0: no expiry).
    """
    days = settings.API_TOKEN_DEFAULT_DAYS
    expires = timezone.now() + timedelta(days=days) if days else None
    _token, key = token_create(
        user=user,
        name=_("Issued for a password (POST /api/v1/auth/token/)"),
        scopes=role_scopes(user),
        expires_at=expires,
    )
    return key


@transaction.atomic
def token_revoke(*, token: ApiToken, actor: Any) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit(
            actor=actor,
            action="token_revoke",
            subject=token.user.get_username(),
            token=token.prefix,
            name=token.name,
        )


# --- second factor --------------------------------------------------------------------------


def requires_second_factor(user: Any) -> bool:
    """Administrators and every role that may export patient data (``SECOND_FACTOR_REQUIRED``)."""
    if not settings.SECOND_FACTOR_REQUIRED or not user.is_authenticated:
        return False
    return bool(user.is_superuser or user.is_staff or user.has_perm("registry.export_data"))


def has_second_factor(user: Any) -> bool:
    return bool(TOTPDevice.objects.filter(user=user, confirmed=True).exists())


@transaction.atomic
def totp_start(*, user: User) -> TOTPDevice:
    """An unconfirmed TOTP device (the QR code's secret) replacing any earlier unconfirmed one."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)


@transaction.atomic
def totp_confirm(*, device: TOTPDevice, code: str) -> list[str]:
    """Confirms the device with a first code; returns fresh recovery codes (shown once)."""
    if not device.verify_token(code.strip().replace(" ", "")):
        raise ValidationError({"code": [_("This code is not valid; try the current one.")]})
    user = device.user
    TOTPDevice.objects.filter(user=user, confirmed=True).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = recovery_codes_renew(user=user)
    audit(actor=user, action="second_factor_enrol", subject=user.get_username())
    return codes


@transaction.atomic
def recovery_codes_renew(*, user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="recovery codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    return codes


@transaction.atomic
def second_factor_reset(*, user: User, actor: Any) -> None:
    """The lost-device path: an administrator removes the user's devices; the user enrols
    again at the next sign-in (which requires it for their role)."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    audit(actor=actor, action="second_factor_reset", subject=user.get_username())


# --- roles and memberships ------------------------------------------------------------------


def _check_role(role: str, allowed: Iterable[str] = ROLES) -> None:
    if role not in allowed:
        raise ValidationError({"role": [_("This role cannot be given here.")]})


def _set_role(user: User, role: str) -> None:
    user.groups.remove(*Group.objects.filter(name__in=ROLES).exclude(name=role))
    user.groups.add(Group.objects.get(name=role))


@transaction.atomic
def user_create(
    *,
    username: str,
    email: str = "",
    password: str | None = None,
    department: Department | None = None,
    role: str | None = None,
    actor: Any = None,
) -> User:
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": [_("This user name is taken.")]})
    if role:
        _check_role(role)
    user = User.objects.create_user(username=username, email=email, password=password)
    if role:
        _set_role(user, role)
    if department is not None:
        department.members.add(user)
    audit(
        actor=actor,
        action="user_create",
        subject=username,
        department=department.code if department else "",
        role=role or "",
    )
    return user


@transaction.atomic
def member_set_role(*, user: User, role: str, actor: Any, department: Department | None) -> None:
    """Gives ``user`` the one registry role ``role``. Roles hold in all of a user's
    departments; a department head may change them for his own department's members only."""
    _check_role(role, ROLES if actor is None or actor.is_superuser else HEAD_ASSIGNABLE)
    before = sorted(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
    _set_role(user, role)
    audit(
        actor=actor,
        action="role_set",
        subject=user.get_username(),
        department=department.code if department else "",
        before=before,
        after=role,
    )


@transaction.atomic
def member_add(*, user: User, department: Department, actor: Any) -> None:
    department.members.add(user)
    audit(actor=actor, action="member_add", subject=user.get_username(), department=department.code)


@transaction.atomic
def member_remove(*, user: User, department: Department, actor: Any) -> None:
    """Removes the membership. Scoping reads membership on every request, so the user's open
    sessions and tokens lose the department's records at their next request."""
    if not department.members.filter(pk=user.pk).exists():
        raise ValidationError({"user": [_("This user is not a member of the department.")]})
    department.members.remove(user)
    audit(
        actor=actor, action="member_remove", subject=user.get_username(), department=department.code
    )


@transaction.atomic
def assignments_sync(*, user: User, assignments: Iterable[tuple[str, str]]) -> None:
    """Sign-in through the provider: the user's roles and departments become exactly those
    its claims map to (``registry.accounts.oidc``); an unknown department code is ignored."""
    wanted = {(code, role) for code, role in assignments if role in ROLES}
    wanted_roles = {role for _code, role in wanted}
    wanted_departments = set(Department.objects.filter(code__in={c for c, _r in wanted}))
    current_roles = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
    current_departments = set(user.departments.all())
    if current_roles == wanted_roles and current_departments == wanted_departments:
        return
    user.groups.remove(*Group.objects.filter(name__in=current_roles - wanted_roles))
    user.groups.add(*Group.objects.filter(name__in=wanted_roles - current_roles))
    user.departments.set(wanted_departments)
    audit(
        actor=None,
        action="oidc_sync",
        subject=user.get_username(),
        roles=sorted(wanted_roles),
        departments=sorted(d.code for d in wanted_departments),
    )


# --- invitations ----------------------------------------------------------------------------


def invitation_link(invitation: Invitation) -> str:
    signed = signing.dumps(invitation.pk, salt=INVITATION_SALT)
    return settings.SITE_URL.rstrip("/") + reverse("invitation-accept", args=[signed])


def invitation_from_link(signed: str) -> Invitation:
    """The invitation a link names, still open; ``ValidationError`` if forged or expired."""
    max_age = timedelta(days=settings.INVITATION_DAYS)
    try:
        pk = signing.loads(signed, salt=INVITATION_SALT, max_age=max_age)
    except signing.BadSignature:
        raise ValidationError(_("This invitation link is not valid or has expired.")) from None
    invitation = Invitation.objects.select_related("department").filter(pk=pk).first()
    if invitation is None or invitation.expires_at <= timezone.now():
        raise ValidationError(_("This invitation link is not valid or has expired."))
    if invitation.accepted_at is not None:
        raise ValidationError(_("This invitation has already been used."))
    return invitation


@transaction.atomic
def member_invite(*, department: Department, email: str, role: str, actor: Any) -> Invitation:
    _check_role(role, ROLES if actor is None or actor.is_superuser else HEAD_ASSIGNABLE)
    invitation = Invitation.objects.create(
        email=email,
        department=department,
        role=role,
        invited_by=actor if actor is not None and actor.pk else None,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_DAYS),
    )
    link = invitation_link(invitation)
    audit(actor=actor, action="invite", subject=email, department=department.code, role=role)
    transaction.on_commit(
        lambda: send_mail(
            _("Invitation to the PIGSF registry"),
            _(
                "%(who)s invites you to join %(department)s in the PIGSF registry.\n\n"
                "Open this link within %(days)s days to accept:\n%(link)s\n"
            )
            % {
                "who": _name(actor),
                "department": department.name,
                "days": settings.INVITATION_DAYS,
                "link": link,
            },
            None,
            [email],
        )
    )
    return invitation


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> None:
    locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if locked.accepted_at is not None:
        raise ValidationError(_("This invitation has already been used."))
    locked.accepted_at = timezone.now()
    locked.accepted_by = user
    locked.save(update_fields=["accepted_at", "accepted_by"])
    _set_role(user, locked.role)
    locked.department.members.add(user)
    audit(
        actor=user,
        action="invitation_accept",
        subject=user.get_username(),
        department=locked.department.code,
        role=locked.role,
        email=locked.email,
    )
