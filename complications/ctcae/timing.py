"""When a complication began, relative to its procedure: per-procedural, early or delayed.

All comparisons are made on UTC instants. Python compares two aware datetimes that share a
tzinfo object by wall clock (ignoring DST offsets), and ``end + timedelta(hours=24)`` on a zoned
datetime adds wall-clock hours; both would misplace onsets around a DST change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PER_PROCEDURAL = "per_procedural"
EARLY = "early"
DELAYED = "delayed"
WINDOWS: tuple[str, ...] = (PER_PROCEDURAL, EARLY, DELAYED)

_BEFORE = "before"
_WHERE = {
    _BEFORE: "before the procedure",
    PER_PROCEDURAL: "in the per-procedural window",
    EARLY: "in the early window",
    DELAYED: "in the delayed window",
}
EARLY_PERIOD = timedelta(hours=24)


class TimingError(ValueError):
    """The onset cannot be placed; ``field`` names the input to correct (API error key)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Timing:
    """The window, and hours from procedure end to onset (None for date-only or intra-procedure)."""

    window: str
    hours_after_end: float | None


def classify_onset(
    *,
    started_at: datetime,
    ended_at: datetime,
    time_zone: str | ZoneInfo,
    onset_at: datetime | None = None,
    onset_date: date | None = None,
    during_procedure: bool = False,
) -> Timing:
    """Place an onset given exactly one of onset_at, onset_date or during_procedure=True.

    A date-only onset is the whole local day in the department's time zone; it is classified
    only when the whole day lies in one window (and not before the start), otherwise the time
    of onset is asked for.
    """
    zone = _zone(time_zone)
    given = [
        name
        for name, present in (
            ("onset_at", onset_at is not None),
            ("onset_date", onset_date is not None),
            ("during_procedure", during_procedure),
        )
        if present
    ]
    if len(given) != 1:
        raise TimingError(
            "non_field_errors",
            "Give exactly one of onset_at, onset_date, or during_procedure=true"
            + (f" (got {', '.join(given)})." if given else "."),
        )
    for name, value in (("started_at", started_at), ("ended_at", ended_at)):
        if _is_naive(value):
            raise TimingError("non_field_errors", f"The procedure's {name} has no time zone.")
    start, end = started_at.astimezone(UTC), ended_at.astimezone(UTC)
    if end < start:
        raise TimingError("non_field_errors", "The procedure ends before it starts.")

    if during_procedure:
        return Timing(PER_PROCEDURAL, None)
    if onset_at is not None:
        if _is_naive(onset_at):
            raise TimingError("onset_at", "onset_at needs a time zone (e.g. +01:00).")
        onset = onset_at.astimezone(UTC)
        window = _window(onset, start, end)
        if window == _BEFORE:
            raise TimingError("onset_at", _before_message(started_at, zone))
        hours = round((onset - end).total_seconds() / 3600, 2)
        return Timing(window, hours)
    assert onset_date is not None
    return Timing(_date_window(onset_date, start, end, started_at, zone), None)


def _zone(time_zone: str | ZoneInfo) -> ZoneInfo:
    if isinstance(time_zone, ZoneInfo):
        return time_zone
    try:
        return ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise TimingError("non_field_errors", f"Unknown time zone {time_zone!r}.") from exc


def _is_naive(moment: datetime) -> bool:
    return moment.tzinfo is None or moment.utcoffset() is None


def _window(onset: datetime, start: datetime, end: datetime) -> str:
    if onset < start:
        return _BEFORE
    if onset <= end:
        return PER_PROCEDURAL
    if onset < end + EARLY_PERIOD:
        return EARLY
    return DELAYED


def _before_message(started_at: datetime, zone: ZoneInfo) -> str:
    local = started_at.astimezone(zone)
    return (
        f"The onset is before the procedure started at {local.isoformat(timespec='minutes')} "
        f"({zone.key}); it is not a complication of this procedure."
    )


def _date_window(
    day: date, start: datetime, end: datetime, started_at: datetime, zone: ZoneInfo
) -> str:
    # The local day is [00:00, next 00:00): 23 or 25 hours long on DST days.
    first = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    after = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    last = after - timedelta(microseconds=1)
    opening, closing = _window(first, start, end), _window(last, start, end)
    if closing == _BEFORE:
        raise TimingError("onset_date", _before_message(started_at, zone))
    if opening != closing:
        raise TimingError(
            "onset_date",
            f"The day {day.isoformat()} ({zone.key}) lies partly {_WHERE[opening]} and partly "
            f"{_WHERE[closing]}; give the time of onset (onset_at) instead of the date"
            + (", or mark it as during the procedure." if closing == PER_PROCEDURAL else "."),
        )
    return opening
