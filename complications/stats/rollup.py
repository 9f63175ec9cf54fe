"""A selection by department and dates, read from the monthly and yearly rollups."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import Q, QuerySet

from complications.models import OutcomeMonth, OutcomeTermMonth
from complications.outcomes.layout import MONTH, YEAR, next_month
from complications.stats.selection import Selection, Units, unit_rows
from registry.scoping import scope_to_user, visible_departments


@dataclass(frozen=True)
class Split:
    """A selection by department and dates only, for a unit the monthly rollup
    counts (fracture, procedure): the rollup rows of the whole months it covers,
    and the summary rows of the days at its ends (``edges``: none when the dates
    fall on month boundaries). Fractures and procedures add up across months.
    ``totals`` and ``term_totals`` cover the whole months (a whole year is one
    row per department and count), ``months`` the same month by month (charts).
    """

    totals: QuerySet[OutcomeMonth]
    term_totals: QuerySet[OutcomeTermMonth]
    months: QuerySet[OutcomeMonth]
    edges: Units


_MONTHLY_FILTERS = ("department", "date_from", "date_to")


def rollup_split(user, unit: str, filters: Selection) -> Split | None:  # type: ignore[no-untyped-def]
    if unit == "patient" or any(
        value for name, value in filters.items() if name not in _MONTHLY_FILTERS
    ):
        return None  # patients span months; the other filters are not in the rollup
    date_from, date_to = filters.get("date_from"), filters.get("date_to")
    end = None if date_to is None else date_to + timedelta(days=1)  # exclusive
    first = None
    if date_from is not None:
        first = date_from if date_from.day == 1 else next_month(date_from.replace(day=1))
    last = None if end is None else end.replace(day=1)  # the months before it are whole
    department = filters.get("department")
    # Each end's condition names the departments, so that the (department,
    # start) index finds the few rows of each end instead of filtering the
    # departments' rows (a superuser's whole registry uses the start index).
    departments: list[Any] = []

    def days(start: date, stop: date) -> Q:
        within = Q(started_on__gte=start, started_on__lt=stop)
        if department is None and user.is_superuser:
            return within
        if not departments:
            departments.extend(
                [department]
                if department is not None
                else visible_departments(user).values_list("pk", flat=True)
            )
        return within & Q(department__in=departments)

    months, edges = Q(), Q(pk__in=[])
    if date_from is not None and end is not None and first >= last:
        months = Q(pk__in=[])  # no whole month: the days, one by one
        edges = days(date_from, end)
    else:
        if date_from is not None:
            months &= Q(month__gte=first)
            if date_from < first:
                edges |= days(date_from, first)
        if end is not None:
            months &= Q(month__lt=last)
            if last < end:
                edges |= days(last, end)
    # The whole months: whole years from the years' rows, the months around them
    # from the months' rows.
    whole = Q(period=MONTH) & months
    if not (date_from is not None and end is not None and first >= last):
        first_year = None if first is None else date(first.year + (first.month > 1), 1, 1)
        last_year = None if last is None else date(last.year, 1, 1)
        if first_year is None or last_year is None or first_year < last_year:
            whole = Q(period=YEAR)
            if first_year is not None:
                whole &= Q(month__gte=first_year)
            if last_year is not None:
                whole &= Q(month__lt=last_year)
            if first is not None and first_year is not None and first < first_year:
                whole |= Q(period=MONTH, month__gte=first, month__lt=first_year)
            if last is not None and last_year is not None and last_year < last:
                whole |= Q(period=MONTH, month__gte=last_year, month__lt=last)
    units = unit_rows(user, unit, {"department": department})

    def rollup(model, condition: Q):  # type: ignore[no-untyped-def]
        rows = scope_to_user(model.objects.filter(unit=unit), user).filter(condition)
        return rows if department is None else rows.filter(department=department)

    return Split(
        totals=rollup(OutcomeMonth, whole),
        term_totals=rollup(OutcomeTermMonth, whole),
        months=rollup(OutcomeMonth, Q(period=MONTH) & months),
        edges=Units(
            units.rows.filter(edges),
            units.key,
            units.distinct,
            units.term_rows.filter(edges),
            units.term_key,
        ),
    )
