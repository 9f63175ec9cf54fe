"""Cumulative incidence of complications with death as the competing event
(``/api/v1/stats/cumulative-incidence/``), from the clinical rows.

The selection is the statistics' own (``selected_fractures``); each unit becomes a
time and a kind by ``ctcae.incidence.unit_time`` and the curve is
``ctcae.incidence.aalen_johansen``. Four queries whatever the number of units.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, Literal, Unpack

from django.db.models import Max

from complications.ctcae import MAJOR_GRADE
from complications.ctcae.incidence import (
    LANDMARK_DAYS,
    CumulativeIncidence,
    aalen_johansen,
    at_noon,
    unit_time,
)
from complications.models import ComplicationEvent, Window
from complications.stats.selection import Selection, selected_fractures
from registry.models import FollowUp, FollowUpStatus

IncidenceUnit = Literal["fracture", "procedure"]
IncidenceWindow = Literal["delayed", "post_procedural"]
Severity = Literal["any", "major"]
INCIDENCE_UNITS: tuple[str, ...] = ("fracture", "procedure")
INCIDENCE_WINDOWS: tuple[str, ...] = ("delayed", "post_procedural")
SEVERITIES: tuple[str, ...] = ("any", "major")
EVENT_WINDOWS = {
    "delayed": (Window.DELAYED,),
    "post_procedural": (Window.EARLY, Window.DELAYED),
}
CLOSING_EVIDENCE = (FollowUpStatus.COMPLETED, FollowUpStatus.LOST)


def _onset(onset_at: datetime | None, onset_date: date | None, zone: str) -> datetime | None:
    if onset_at is not None:
        return onset_at
    return at_noon(onset_date, zone) if onset_date is not None else None


def _latest(current: datetime | None, new: datetime | None) -> datetime | None:
    if new is None:
        return current
    return new if current is None or new > current else current


def _earliest(current: datetime | None, new: datetime | None) -> datetime | None:
    if new is None:
        return current
    return new if current is None or new < current else current


def unit_times(
    *,
    user: Any,
    unit: IncidenceUnit = "fracture",
    window: IncidenceWindow = "delayed",
    severity: Severity = "any",
    **filters: Unpack[Selection],
) -> tuple[list[float], list[int]]:
    """Every selected unit's time (days after its procedure end) and kind (the counting
    rules of docs/domain.md, "Cumulative incidence")."""
    fractures = selected_fractures(user=user, **filters)
    units: dict[int, dict[str, Any]] = {}
    key = "pk" if unit == "fracture" else "procedure_id"
    rows = fractures.values_list(
        key,
        "procedure__ended_at",
        "procedure__patient__department__time_zone",
        "procedure__patient__death_date",
        "procedure__follow_up_status",
        "procedure__follow_up_closed_on",
    )
    for pk, end, zone, death, status, closed_on in rows.iterator(chunk_size=5000):
        if pk in units:
            continue
        units[pk] = {
            "end": end,
            "zone": zone,
            "death": at_noon(death, zone) if death is not None else None,
            "event": None,
            "evidence": (
                at_noon(closed_on, zone)
                if closed_on is not None and status in CLOSING_EVIDENCE
                else None
            ),
        }
    if unit == "fracture":
        contacts: Iterable[tuple[int, datetime]] = (
            FollowUp.fractures.through.objects.filter(fracture__in=fractures)
            .values("fracture_id")
            .annotate(last=Max("followup__contact_at"))
            .values_list("fracture_id", "last")
        )
        events = ComplicationEvent.fractures.through.objects.filter(
            fracture__in=fractures
        ).values_list(
            "fracture_id",
            "complicationevent__window",
            "complicationevent__grade",
            "complicationevent__onset_at",
            "complicationevent__onset_date",
        )
    else:
        procedure_ids = fractures.values("procedure_id")
        contacts = (
            FollowUp.objects.filter(procedure_id__in=procedure_ids)
            .values("procedure_id")
            .annotate(last=Max("contact_at"))
            .values_list("procedure_id", "last")
        )
        events = ComplicationEvent.objects.filter(procedure_id__in=procedure_ids).values_list(
            "procedure_id", "window", "grade", "onset_at", "onset_date"
        )
    for pk, last in contacts:
        if pk in units:
            units[pk]["evidence"] = _latest(units[pk]["evidence"], last)
    lowest = MAJOR_GRADE if severity == "major" else 1
    counted = EVENT_WINDOWS[window]
    for pk, event_window, grade, onset_at, onset_date in events.iterator(chunk_size=5000):
        row = units.get(pk)
        if row is None:
            continue
        onset = _onset(onset_at, onset_date, row["zone"])
        row["evidence"] = _latest(row["evidence"], onset)
        if event_window in counted and grade >= lowest:
            row["event"] = _earliest(row["event"], onset)
    times: list[float] = []
    kinds: list[int] = []
    for row in units.values():
        time, kind = unit_time(
            end=row["end"], event_at=row["event"], death_at=row["death"], evidence=[row["evidence"]]
        )
        times.append(time)
        kinds.append(kind)
    return times, kinds


def _r(value: float) -> float:
    return round(value, 4)


def _landmark(estimate: CumulativeIncidence, day: int) -> dict[str, Any]:
    cif, low, high, at_risk = estimate.at(day)
    return {"cif": _r(cif), "ci95": [_r(low), _r(high)], "at_risk": at_risk}


def incidence_summary(estimate: CumulativeIncidence) -> dict[str, Any]:
    """The counts, the curve and the landmark estimates, as the API gives them."""
    return {
        "units": estimate.units,
        "events": estimate.events,
        "competing": estimate.competing,
        "censored": estimate.censored,
        "curve": [
            {
                "day": _r(float(day)),
                "cif": _r(float(cif)),
                "ci95": [_r(float(low)), _r(float(high))],
                "at_risk": int(at_risk),
            }
            for day, cif, low, high, at_risk in zip(
                estimate.times,
                estimate.cif,
                estimate.low,
                estimate.high,
                estimate.at_risk,
                strict=True,
            )
        ],
        "at": {str(day): _landmark(estimate, day) for day in LANDMARK_DAYS},
    }


def cumulative_incidence_estimate(
    *,
    user: Any,
    unit: IncidenceUnit = "fracture",
    window: IncidenceWindow = "delayed",
    severity: Severity = "any",
    **filters: Unpack[Selection],
) -> CumulativeIncidence:
    """The Aalen-Johansen estimate itself (unrounded), for the selection."""
    times, kinds = unit_times(user=user, unit=unit, window=window, severity=severity, **filters)
    return aalen_johansen(times, kinds)


def cumulative_incidence(
    *,
    user: Any,
    unit: IncidenceUnit = "fracture",
    window: IncidenceWindow = "delayed",
    severity: Severity = "any",
    **filters: Unpack[Selection],
) -> dict[str, Any]:
    """``/api/v1/stats/cumulative-incidence/``: the Aalen-Johansen estimate for the selection."""
    estimate = cumulative_incidence_estimate(
        user=user, unit=unit, window=window, severity=severity, **filters
    )
    return {"unit": unit, "window": window, "severity": severity, **incidence_summary(estimate)}
