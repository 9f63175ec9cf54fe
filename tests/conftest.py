"""Shared fixtures: departments and one persona per permission level.

- ``radiologist``: enters and edits the cases of department A;
- ``head``: department head of A, reads everything of A;
- ``data_manager``: corrects records of A;
- ``api_user``: token-only API client of A;
- ``outsider``: radiologist of department B, who must see nothing of A;
- ``admin_user``: superuser, sees every department.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from registry import roles
from registry.models import Department

PASSWORD = "correct-horse-battery-staple"


def _user(username: str, role: str | None, department: Department | None, **extra) -> User:
    user = User.objects.create_user(username=username, password=PASSWORD, **extra)
    if role:
        user.groups.add(Group.objects.get(name=role))
    if department:
        department.members.add(user)
    return user


@pytest.fixture
def department(db) -> Department:
    return Department.objects.create(code="A", name="Department A", time_zone="Europe/Paris")


@pytest.fixture
def other_department(db) -> Department:
    return Department.objects.create(code="B", name="Department B", time_zone="America/New_York")


@pytest.fixture
def radiologist(department) -> User:
    return _user("radiologist", roles.RADIOLOGIST, department)


@pytest.fixture
def head(department) -> User:
    return _user("head", roles.DEPARTMENT_HEAD, department)


@pytest.fixture
def data_manager(department) -> User:
    return _user("data_manager", roles.DATA_MANAGER, department)


@pytest.fixture
def api_user(department) -> User:
    return _user("api_user", roles.API_CLIENT, department)


@pytest.fixture
def outsider(other_department) -> User:
    return _user("outsider", roles.RADIOLOGIST, other_department)


@pytest.fixture
def admin_user(db) -> User:
    return User.objects.create_superuser(username="admin", password=PASSWORD, email="admin@example.org")


def api_client_for(user: User) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api(radiologist) -> APIClient:
    """An API client authenticated by token as the radiologist of department A."""
    return api_client_for(radiologist)
