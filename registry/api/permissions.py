"""Who may do what through the API.

The roles are Django groups holding model permissions (``registry.roles``);
these classes read them, so the admin's permission screens and the API agree.
What a user may *see* is limited separately, by department scoping in the
views' querysets: another department's record is a 404, never a 403.
"""

from __future__ import annotations

from typing import Any

from rest_framework import permissions
from rest_framework.request import Request


class ClinicalModelPermissions(permissions.DjangoModelPermissions):
    """Model permissions, reads included: reading needs ``view_<model>`` too."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }


class SuperuserWritesOnly(permissions.BasePermission):
    """Anyone authenticated reads (scoping limits what); only administrators write."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        return request.method in permissions.SAFE_METHODS or request.user.is_superuser
