"""Department scoping, in one place.

Every query for clinical records goes through ``scope_to_user`` so that no view,
export, dashboard or task can forget it: a user sees the records of the
departments they belong to; an administrator (superuser) sees every department.
Each model names its path to the department in ``DEPARTMENT_PATH``.
"""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Model, QuerySet

from registry.models import Department

M = TypeVar("M", bound=Model)


def visible_departments(user) -> QuerySet[Department]:  # type: ignore[no-untyped-def]
    if not user.is_authenticated:
        return Department.objects.none()
    if user.is_superuser:
        return Department.objects.all()
    return Department.objects.filter(members=user)


def scope_to_user(queryset: QuerySet[M], user) -> QuerySet[M]:  # type: ignore[no-untyped-def]
    if not user.is_authenticated:
        return queryset.none()
    if user.is_superuser:
        return queryset
    path = queryset.model.DEPARTMENT_PATH  # type: ignore[attr-defined]
    return queryset.filter(**{f"{path}__in": visible_departments(user).values("pk")})
