"""Reads of the core clinical records (always scoped to the user)."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from registry.models import Procedure
from registry.scoping import scope_to_user


def procedure_list(*, user, search: str = "") -> QuerySet[Procedure]:  # type: ignore[no-untyped-def]
    qs = scope_to_user(Procedure.objects.all(), user).select_related("patient", "patient__department")
    if search:
        qs = qs.filter(patient__registry_id__icontains=search.strip())
    return qs.annotate(
        fracture_count=Count("fractures", distinct=True),
        complication_count=Count("complications", distinct=True),
    ).order_by("-started_at")
