"""The demo department's users: one per role, with public passwords.

The cohort they work on is ``complications.demo`` (``manage.py demo``); the
users are here because the start-up check (``registry.checks``) refuses their
published passwords on a production server.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, User

from registry import roles
from registry.models import Department

DEMO_USERS = [
    # username, role, password, description
    (
        "radiologist",
        roles.RADIOLOGIST,
        "demo-radiologist",
        "interventional radiologist: enters cases",
    ),
    ("head", roles.DEPARTMENT_HEAD, "demo-head", "department head: dashboards, reports, exports"),
    (
        "datamanager",
        roles.DATA_MANAGER,
        "demo-datamanager",
        "data manager: corrects records, exports",
    ),
    ("apiclient", roles.API_CLIENT, "demo-apiclient", "API client: token access, read and export"),
]
ADMIN = ("admin", "demo-admin")


def ensure_users(department: Department) -> list[tuple[str, str, str]]:
    """Create (or reset) one user per role and an administrator; returns (username, password, role)."""
    logins = []
    for username, role, password, description in DEMO_USERS:
        user, _ = User.objects.get_or_create(username=username)
        user.set_password(password)
        user.is_staff = role in (roles.DATA_MANAGER,)
        user.save()
        user.groups.set([Group.objects.get(name=role)])
        department.members.add(user)
        logins.append((username, password, description))
    admin, _ = User.objects.get_or_create(
        username=ADMIN[0], defaults={"email": "admin@example.org"}
    )
    admin.is_staff = admin.is_superuser = True
    admin.set_password(ADMIN[1])
    admin.save()
    logins.append((ADMIN[0], ADMIN[1], "administrator (Django admin, every department)"))
    return logins
