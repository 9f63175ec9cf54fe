"""``{% account_security %}``: the profile page's security section (second factor, tokens,
login history), so the profile view stays as it is."""

from __future__ import annotations

from typing import Any

from django import template

from registry.accounts import services
from registry.accounts.models import LoginEvent

register = template.Library()
HISTORY = 20


@register.inclusion_tag("accounts/_profile_security.html", takes_context=True)
def account_security(context: dict[str, Any]) -> dict[str, Any]:
    user = context["user"]
    return {
        "user": user,
        "requires_second_factor": services.requires_second_factor(user),
        "has_second_factor": services.has_second_factor(user),
        "logins": LoginEvent.objects.filter(user=user)[:HISTORY],
        "csrf_token": context.get("csrf_token"),
    }
