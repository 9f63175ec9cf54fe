"""Reads of the core clinical records (always scoped to the user)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from registry import hooks
from registry.models import Department, FollowUpStatus, Fracture, Patient, Procedure
from registry.scoping import scope_to_user


def procedure_list(*, user, search: str = "") -> QuerySet[Procedure]:  # type: ignore[no-untyped-def]
    qs = scope_to_user(Procedure.objects.all(), user).select_related(
        "patient", "patient__department"
    )
    if search:
        qs = qs.filter(patient__registry_id__icontains=search.strip())
    return qs.annotate(
        fracture_count=Count("fractures", distinct=True),
        complication_count=Count("complications", distinct=True),
    ).order_by("-started_at")


def _procedure_filters(guidance: str, date_from: date | None, date_to: date | None) -> Q:
    """The list filters on a procedure: its guidance and its local start date, inclusive."""
    condition = Q()
    if guidance:
        condition &= Q(guidance=guidance)
    if date_from:
        condition &= Q(started_on__gte=date_from)
    if date_to:
        condition &= Q(started_on__lte=date_to)
    return condition


def procedure_search(  # type: ignore[no-untyped-def]
    *,
    user,
    search: str = "",
    department: Department | None = None,
    guidance: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
    has_complications: str = "",
    patient: Patient | None = None,
) -> QuerySet[Procedure]:
    """The case list: ``procedure_list`` narrowed by its filters (start dates in the
    department's time zone, inclusive)."""
    qs = procedure_list(user=user, search=search)
    if department is not None:
        qs = qs.filter(patient__department=department)
    if patient is not None:
        qs = qs.filter(patient=patient)
    qs = qs.filter(_procedure_filters(guidance=guidance, date_from=date_from, date_to=date_to))
    if has_complications == "yes":
        qs = qs.filter(complication_count__gt=0)
    elif has_complications == "no":
        qs = qs.filter(complication_count=0)
    return qs


def patient_search(  # type: ignore[no-untyped-def]
    *,
    user,
    search: str = "",
    department: Department | None = None,
    guidance: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
    has_complications: str = "",
) -> QuerySet[Patient]:
    """The patient list, with counts and the latest procedure, filtered through their procedures."""
    qs = scope_to_user(Patient.objects.all(), user).select_related("department")
    if search:
        qs = qs.filter(registry_id__icontains=search.strip())
    if department is not None:
        qs = qs.filter(department=department)
    if guidance or date_from or date_to:
        procedures = Procedure.objects.filter(patient=OuterRef("pk")).filter(
            _procedure_filters(guidance=guidance, date_from=date_from, date_to=date_to)
        )
        qs = qs.filter(Exists(procedures))
    complications = Procedure.objects.filter(patient=OuterRef("pk"), complications__isnull=False)
    if has_complications == "yes":
        qs = qs.filter(Exists(complications))
    elif has_complications == "no":
        qs = qs.filter(~Exists(complications))
    return qs.annotate(
        procedure_count=Count("procedures", distinct=True),
        latest_procedure=Subquery(
            Procedure.objects.filter(patient=OuterRef("pk"))
            .order_by("-started_at")
            .values("pk")[:1]
        ),
        last_started_at=Max("procedures__started_at"),
    ).order_by("department__code", "registry_id")


# --- the follow-up worklist -------------------------------------------------------------------

# The 24-hour check is due once the procedure ended a day ago; it is overdue a day later.
CHECK_24H_DUE = timedelta(hours=24)
CHECK_24H_OVERDUE = timedelta(hours=48)
# Follow-up beyond 24 hours (the delayed window's denominator) is due after a month, overdue after
# three: the usual clinical and imaging control of a fixation.
LATER_DUE = timedelta(days=30)
LATER_OVERDUE = timedelta(days=90)


@dataclass(frozen=True)
class WorklistItem:
    """One fracture whose follow-up is missing: which check, since when, and how late."""

    fracture: Fracture
    check: str  # "24h" or "later"
    due_at: datetime
    overdue: bool

    @property
    def procedure(self) -> Procedure:
        return self.fracture.procedure


def _worklist_queryset(fractures: QuerySet[Fracture], now: datetime) -> QuerySet[Fracture]:
    """Annotate whether each fracture has follow-up after the end and beyond 24 h; keep those due.

    A complication with onset in a window is itself evidence of follow-up up to that window
    (docs/domain.md section 4), so an early or delayed complication concerning the fracture counts.
    """
    after_end, beyond_24h = hooks.follow_up_evidence()
    # A closed follow-up (completed, lost, deceased) or a dead patient is no longer chased.
    fractures = fractures.filter(
        procedure__follow_up_status=FollowUpStatus.OPEN,
        procedure__patient__death_date__isnull=True,
    )
    return (
        fractures.annotate(seen_after_end=after_end, seen_beyond_24h=beyond_24h)
        .filter(
            Q(procedure__ended_at__lte=now - CHECK_24H_DUE, seen_after_end=False)
            | Q(procedure__ended_at__lte=now - LATER_DUE, seen_beyond_24h=False)
        )
        .select_related("procedure__patient__department")
        .order_by("procedure__ended_at", "pk")
    )


def _worklist_items(fractures: Iterable[Fracture], now: datetime) -> list[WorklistItem]:
    items = []
    for fracture in fractures:
        ended = fracture.procedure.ended_at
        if not fracture.seen_after_end:  # type: ignore[attr-defined]
            overdue = now - ended > CHECK_24H_OVERDUE
            items.append(WorklistItem(fracture, "24h", ended + CHECK_24H_DUE, overdue))
        # The later follow-up is listed too when due: one contact beyond 24 h settles both.
        if not fracture.seen_beyond_24h and now - ended >= LATER_DUE:  # type: ignore[attr-defined]
            overdue = now - ended > LATER_OVERDUE
            items.append(WorklistItem(fracture, "later", ended + LATER_DUE, overdue))
    return items


def follow_up_worklist(  # type: ignore[no-untyped-def]
    *, user, department: Department | None = None, now: datetime | None = None
) -> list[WorklistItem]:
    """Fractures of the user's departments whose 24-hour check or later follow-up is due or overdue.

    One query, whatever the number of fractures.
    """
    now = now or timezone.now()
    fractures = scope_to_user(Fracture.objects.all(), user)
    if department is not None:
        fractures = fractures.filter(procedure__patient__department=department)
    return _worklist_items(_worklist_queryset(fractures, now), now)


def follow_up_worklists_by_department(
    *, now: datetime | None = None
) -> dict[int, list[WorklistItem]]:
    """Every department's worklist in one query (the daily digest; callers scope per user)."""
    now = now or timezone.now()
    grouped: dict[int, list[WorklistItem]] = {}
    for item in _worklist_items(_worklist_queryset(Fracture.objects.all(), now), now):
        grouped.setdefault(item.procedure.patient.department_id, []).append(item)
    return grouped
