"""Account records: API tokens (hashed), login history, account events, invitations."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Scope(models.TextChoices):
    READ = "read", _("read")
    EXPORT = "export", _("export")
    WRITE = "write", _("write")


class ApiToken(models.Model):
    """A named API token. Only the SHA-256 of its key is stored: the key is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=80)
    prefix = models.CharField(_("prefix"), max_length=8)
    key_hash = models.CharField(max_length=64, unique=True)
    # Space-separated subset of Scope values; "read" is always part of it.
    scopes = models.CharField(_("scopes"), max_length=40)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()


class LoginMethod(models.TextChoices):
    PASSWORD = "password", _("password")
    OIDC = "oidc", _("single sign-on")
    TOKEN = "token", _("API token request")


class LoginEvent(models.Model):
    """One sign-in attempt, successful or not (the user's login history)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="login_events",
    )
    username = models.CharField(max_length=150, blank=True)
    method = models.CharField(max_length=10, choices=LoginMethod.choices)
    success = models.BooleanField()
    address = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.username} {self.method} {'ok' if self.success else 'failed'}"


class AccountEvent(models.Model):
    """Who changed which account how: invitations, roles, memberships, second factors, tokens."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=40)
    subject = models.CharField(max_length=254, blank=True)  # a username or an e-mail address
    department = models.CharField(max_length=32, blank=True)  # the department's code
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.subject}"


class Invitation(models.Model):
    """A department head's invitation of a colleague; the link carries its signed id."""

    email = models.EmailField(_("e-mail"))
    department = models.ForeignKey(
        "registry.Department", on_delete=models.CASCADE, related_name="invitations"
    )
    role = models.CharField(_("role"), max_length=40)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.email} -> {self.department_id} ({self.role})"
