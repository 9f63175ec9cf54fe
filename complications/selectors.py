"""Reads of the complication domain that name individual records: data quality.

The statistics are in ``complications.stats``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import F, OuterRef, Q
from django.utils import timezone

from complications.counting import DAY, contact_evidence
from complications.models import ComplicationEvent, Window
from registry.models import Department, FollowUp, Fracture, Procedure
from registry.scoping import scope_to_user

MISSING_BEYOND_24H_AFTER = timedelta(days=30)


def data_quality(  # type: ignore[no-untyped-def]
    *, user, department: Department | int | None = None, now: datetime | None = None
) -> dict[str, list[dict[str, Any]]]:
    """What keeps the rates from being trustworthy, one list per problem.

    - ``complications_without_follow_up``: an early (delayed) complication
      whose fractures have no recorded contact after the end (beyond 24 h):
      the rates count the unit in those denominators anyway, on the
      complication's evidence, and the contact should be recorded;
    - ``fractures_without_contact_after_end``: the procedure ended more than
      24 hours ago and no contact covers the fracture (the 24-hour check);
    - ``fractures_without_contact_beyond_24h``: ended more than 30 days ago
      and no contact more than 24 hours after the end;
    - ``date_only_onsets``: complications whose onset is known only to the
      day (the hours after the end are unknown);
    - ``complications_without_fracture`` and ``procedures_without_fracture``:
      invisible to the fracture unit, and outside every selection.

    One query per list.
    """
    now = now or timezone.now()

    def scoped(model):  # type: ignore[no-untyped-def]
        queryset = scope_to_user(model.objects.all(), user)
        if department is not None:
            queryset = queryset.filter(**{model.DEPARTMENT_PATH: department})
        return queryset

    covering = FollowUp.objects.filter(
        procedure=OuterRef("procedure"), fractures__complications=OuterRef("pk")
    )
    complication_fields = (
        "id",
        "procedure_id",
        "window",
        "grade",
        "term__name",
        "onset_at",
        "onset_date",
        "procedure__patient__registry_id",
        "procedure__patient__department__code",
    )
    unfollowed = (
        scoped(ComplicationEvent)
        .annotate(**contact_evidence(covering, F("procedure__ended_at")))
        .filter(
            Q(window=Window.EARLY, contact_after_end=False)
            | Q(window=Window.DELAYED, contact_beyond_24h=False)
        )
        .order_by("procedure__started_at", "id")
        .values(*complication_fields)
    )
    fracture_fields = (
        "id",
        "procedure_id",
        "type",
        "site",
        "procedure__ended_at",
        "procedure__patient__registry_id",
        "procedure__patient__department__code",
    )
    contacts = FollowUp.objects.filter(fractures=OuterRef("pk"))
    fractures = (
        scoped(Fracture)
        .annotate(**contact_evidence(contacts, F("procedure__ended_at")))
        .order_by("procedure__ended_at", "id")
    )
    no_contact = fractures.filter(contact_after_end=False, procedure__ended_at__lt=now - DAY)
    no_late_contact = fractures.filter(
        contact_beyond_24h=False, procedure__ended_at__lt=now - MISSING_BEYOND_24H_AFTER
    )
    return {
        "complications_without_follow_up": list(unfollowed),
        "fractures_without_contact_after_end": list(no_contact.values(*fracture_fields)),
        "fractures_without_contact_beyond_24h": list(no_late_contact.values(*fracture_fields)),
        "date_only_onsets": list(
            scoped(ComplicationEvent)
            .filter(onset_date__isnull=False)
            .order_by("onset_date", "id")
            .values(*complication_fields)
        ),
        "complications_without_fracture": list(
            scoped(ComplicationEvent)
            .filter(fractures__isnull=True)
            .order_by("procedure__started_at", "id")
            .values(*complication_fields)
        ),
        "procedures_without_fracture": list(
            scoped(Procedure)
            .filter(fractures__isnull=True)
            .order_by("started_at", "id")
            .values(
                "id", "started_at", "ended_at", "patient__registry_id", "patient__department__code"
            )
        ),
    }
