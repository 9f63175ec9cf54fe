"""Funnel plot: every department's complication rate against the registry-wide rate
(``/api/v1/stats/funnel/``), with exact binomial 95 % and 99.8 % control limits.

Events and units at risk are those of ``/api/v1/stats/rates/`` (``rates``),
counted for every department whoever asks; departments the user does not belong to
are anonymised unless the user is a superuser or a registry coordinator.
"""

from __future__ import annotations

from typing import Any, Literal, Unpack

from django.utils.translation import gettext as _

from complications.ctcae.funnel import funnel_point
from complications.quality import SYSTEM
from complications.stats.rates import rates
from complications.stats.selection import Selection
from registry.models import Department
from registry.roles import is_registry_coordinator
from registry.scoping import visible_departments

FUNNEL_WINDOWS: tuple[str, ...] = ("per_procedural", "early", "delayed")


def _r(value: float) -> float:
    return round(value, 4)


def department_counts(
    *, unit: str, window: str, severity: str, **filters: Unpack[Selection]
) -> list[tuple[Department, int, int]]:
    """(department, events, at risk) of every department, as stats/rates counts them."""
    counts = []
    for department in Department.objects.order_by("pk"):
        windows = rates(user=SYSTEM, unit=unit, department=department, **filters)["windows"][window]
        events = windows["major"] if severity == "major" else windows["events"]
        counts.append((department, events, windows["at_risk"]))
    return counts


def funnel(
    *,
    user: Any,
    unit: Literal["fracture", "procedure", "patient"] = "fracture",
    window: str = "delayed",
    severity: Literal["any", "major"] = "major",
    **filters: Unpack[Selection],
) -> dict[str, Any]:
    filters.pop("department", None)
    counts = department_counts(unit=unit, window=window, severity=severity, **filters)
    events = sum(e for _d, e, _n in counts)
    at_risk = sum(n for _d, _e, n in counts)
    p0 = events / at_risk if at_risk else 0.0
    named = is_registry_coordinator(user)
    own = set(visible_departments(user).values_list("pk", flat=True))
    rows = []
    # Anonymised departments are numbered by size, never by id (which would name them).
    others = 0
    for department, dep_events, dep_at_risk in sorted(
        counts, key=lambda row: (-row[2], row[0].code)
    ):
        if dep_at_risk == 0:
            continue
        point = funnel_point(dep_events, dep_at_risk, p0)
        shown = named or department.pk in own
        if not shown:
            others += 1
        rows.append(
            {
                "department": department.pk if shown else None,
                "label": department.code if shown else _("Other department %(n)s") % {"n": others},
                "events": point.events,
                "at_risk": point.at_risk,
                "rate": _r(point.rate),
                "limits": {
                    level: [_r(low), _r(high)] for level, (low, high) in point.limits.items()
                },
                "position": point.position,
            }
        )
    return {
        "window": window,
        "severity": severity,
        "unit": unit,
        "overall": {"events": events, "at_risk": at_risk, "rate": _r(p0)},
        "departments": rows,
    }
