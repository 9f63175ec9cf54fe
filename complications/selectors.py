"""Reads of the complication domain: live rates, the cohort table, data quality.

Everything is computed in the database with a fixed number of queries, however
large the registry grows: the units' rows (fractures, or procedures for the
procedure and patient units) are joined to their complications and follow-up
contacts, and counted with conditional ``COUNT(DISTINCT unit)`` aggregates,
one GROUP BY level, which the planner runs as hash joins (correlated
subqueries per unit were two orders of magnitude slower on PostgreSQL at a few
thousand procedures). Python only rounds and arranges the few resulting rows.

The selection
-------------
The filters pick a set of *fractures*: those of the procedures that match the
procedure filters (department, start dates, guidance, operator) and that match
the fracture filters (type, site). The procedures and patients of the selection
are the procedures and patients of those fractures, so that the three units
always describe the same cases (a procedure recorded without any fracture is
outside every selection and is listed by ``data_quality``). For the procedure
and patient units, all the complications and follow-up contacts of the
selected procedures count, including a complication that concerns only a
fracture of another type or site: the unit is the procedure (or the patient),
and "a procedure counts when any of its complications is in W".

Every selection starts from ``registry.scoping.scope_to_user``; the joins only
ever reach the complications and contacts of an already scoped unit.

The counting rules are those of domain.md section 4; the M2M rows
(``ComplicationEvent.fractures``, ``FollowUp.fractures``) are taken as the truth
of which fractures an event concerns or a contact covers (the services store
the "all of the procedure's fractures" default explicitly).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal, TypedDict, Unpack
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import ExtractDay, ExtractMonth, ExtractYear, TruncQuarter
from django.utils import timezone

from complications.ctcae.rates import percent, rate_summary
from complications.models import ComplicationEvent, Window
from registry.models import (
    Department,
    FollowUp,
    Fracture,
    FractureType,
    Procedure,
    Sex,
    Site,
)
from registry.scoping import scope_to_user

Unit = Literal["fracture", "procedure", "patient"]
UNITS: tuple[str, ...] = ("fracture", "procedure", "patient")
WINDOWS: tuple[str, ...] = tuple(Window.values)  # per_procedural, early, delayed
MAJOR_GRADE = 3  # CTCAE grades 3-5 are major, 1-2 minor
GRADES = (1, 2, 3, 4, 5)
DAY = timedelta(hours=24)


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(settings.TIME_ZONE))


class Selection(TypedDict, total=False):
    """The filters every statistic takes (``selected_fractures``'s keyword arguments)."""

    department: Department | int | None
    date_from: date | None
    date_to: date | None
    fracture_type: str | None
    site: str | None
    guidance: str | None
    operator: str | None


def selected_fractures(  # type: ignore[no-untyped-def]
    *,
    user,
    department: Department | int | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    fracture_type: str | None = None,
    site: str | None = None,
    guidance: str | None = None,
    operator: str | None = None,
) -> QuerySet[Fracture]:
    """The fractures the filters select, scoped to the user's departments.

    Dates are procedure start dates in ``settings.TIME_ZONE``, both inclusive;
    they become half-open datetime bounds so the start-time index serves them.
    ``operator`` matches case-insensitively within the free-text operator(s)
    field, which may name several people.
    """
    fractures = scope_to_user(Fracture.objects.all(), user)
    if department is not None:
        fractures = fractures.filter(procedure__patient__department=department)
    if date_from is not None:
        fractures = fractures.filter(procedure__started_at__gte=_local_midnight(date_from))
    if date_to is not None:
        fractures = fractures.filter(
            procedure__started_at__lt=_local_midnight(date_to + timedelta(days=1))
        )
    if guidance:
        fractures = fractures.filter(procedure__guidance=guidance)
    if operator:
        fractures = fractures.filter(procedure__operator__icontains=operator.strip())
    if fracture_type:
        fractures = fractures.filter(type=fracture_type)
    if site:
        fractures = fractures.filter(site=site)
    return fractures


def _selected_procedures(user, fractures: QuerySet[Fracture]) -> QuerySet[Procedure]:  # type: ignore[no-untyped-def]
    return scope_to_user(Procedure.objects.all(), user).filter(
        pk__in=fractures.values("procedure_id")
    )


@dataclass(frozen=True)
class _Units:
    """Where one unit's rows, complications and follow-up contacts are.

    ``rows`` is joined to the complications and contacts through the
    ``complications`` and ``follow_ups`` relations (both exist on Fracture, as
    M2M, and on Procedure, as reverse keys); ``key`` names the unit in a row:
    for the patient unit the rows are the selected procedures, so that only
    their complications and contacts count.
    """

    rows: QuerySet[Any]
    key: str
    ended_at: str
    started_at: str


def _units(user, unit: str, fractures: QuerySet[Fracture]) -> _Units:  # type: ignore[no-untyped-def]
    if unit == "fracture":
        return _Units(fractures, "pk", "procedure__ended_at", "procedure__started_at")
    if unit == "procedure":
        return _Units(_selected_procedures(user, fractures), "pk", "ended_at", "started_at")
    if unit == "patient":
        return _Units(_selected_procedures(user, fractures), "patient", "ended_at", "started_at")
    raise ValueError(f"unknown unit {unit!r}; expected one of {', '.join(UNITS)}")


def _window_counts(units: _Units, *, with_grades: bool = False) -> dict[str, Count]:
    """Conditional distinct counts of units, over the rows joined to their
    complications and contacts (one GROUP BY level, so they also work per group).

    - ``<window>__events``: units with a complication in the window, and
      ``__major`` those with a major one (their highest grade is then major);
    - ``<window>__at_risk``: every unit during the procedure; for the early
      window, units with a contact strictly after the end or a complication in
      the early or delayed window (itself evidence of follow-up); for the
      delayed window, a contact more than 24 h after the end or a delayed
      complication;
    - ``<window>__grade_<k>_up`` (``with_grades``): units with a complication
      of grade k or more, whose differences give the highest-grade distribution.
    """

    def count(condition: Q | None = None) -> Count:
        return Count(units.key, distinct=True, filter=condition)

    after_end = Q(follow_ups__contact_at__gt=F(units.ended_at))
    beyond_24h = Q(follow_ups__contact_at__gt=F(units.ended_at) + DAY)
    aggregates = {
        f"{Window.PER_PROCEDURAL.value}__at_risk": count(),
        f"{Window.EARLY.value}__at_risk": count(
            after_end | Q(complications__window__in=[Window.EARLY, Window.DELAYED])
        ),
        f"{Window.DELAYED.value}__at_risk": count(
            beyond_24h | Q(complications__window=Window.DELAYED)
        ),
    }
    for window in WINDOWS:
        aggregates[f"{window}__events"] = count(Q(complications__window=window))
        aggregates[f"{window}__major"] = count(
            Q(complications__window=window, complications__grade__gte=MAJOR_GRADE)
        )
        if with_grades:
            for grade in GRADES:
                aggregates[f"{window}__grade_{grade}_up"] = count(
                    Q(complications__window=window, complications__grade__gte=grade)
                )
    return aggregates


def _highest_grades(row: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Units by their highest grade per window, from the "grade k or more" counts."""
    result = {}
    for window in WINDOWS:
        at_least = [row[f"{window}__grade_{g}_up"] for g in GRADES] + [0]
        result[window] = {str(g): at_least[i] - at_least[i + 1] for i, g in enumerate(GRADES)}
    return result


def _windows(row: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The contract's ``windows`` object from one row of ``_window_counts``."""
    result = {}
    for window in WINDOWS:
        events, major = row[f"{window}__events"], row[f"{window}__major"]
        result[window] = {
            **rate_summary(events, row[f"{window}__at_risk"]),
            "minor": events - major,
            "major": major,
        }
    return result


def _grouped_units(user, unit: str, fractures: QuerySet[Fracture]) -> tuple[QuerySet[Any], str]:  # type: ignore[no-untyped-def]
    """Complication rows of the selection and the lookup that names their unit.

    For the fracture unit the rows are the complication-fracture links, so a
    complication concerning two fractures counts for each and one concerning
    another fracture of the procedure does not count for this one.
    """
    if unit == "fracture":
        rows = ComplicationEvent.fractures.through.objects.filter(fracture__in=fractures)
        return rows, "fracture_id"
    procedures = _selected_procedures(user, fractures)
    rows = ComplicationEvent.objects.filter(procedure__in=procedures)
    if unit == "procedure":
        return rows, "procedure_id"
    return rows, "procedure__patient_id"


def _breakdown_by(
    rows: QuerySet[Any], unit_lookup: str, prefix: str, keys: dict[str, str]
) -> list[dict[str, Any]]:
    """Units per (window, key): ``events`` and ``major`` as distinct unit counts.

    A unit's highest grade among the group's complications is major exactly
    when one of them is major, so the split needs no per-unit step. ``keys``
    maps each output key to its lookup on the complication.
    """
    window_lookup = f"{prefix}window"
    lookups = {key: f"{prefix}{lookup}" for key, lookup in keys.items()}
    grouped = (
        rows.values(window_lookup, *lookups.values())
        .annotate(
            events=Count(unit_lookup, distinct=True),
            major=Count(
                unit_lookup, distinct=True, filter=Q(**{f"{prefix}grade__gte": MAJOR_GRADE})
            ),
        )
        .order_by()
    )
    window_order = {w: i for i, w in enumerate(WINDOWS)}
    result = [
        {
            "window": row[window_lookup],
            **{key: row[lookup] for key, lookup in lookups.items()},
            "events": row["events"],
            "minor": row["events"] - row["major"],
            "major": row["major"],
        }
        for row in grouped
    ]
    name = "term_name" if "term_name" in keys else "soc"
    result.sort(key=lambda r: (window_order[r["window"]], -r["events"], -r["major"], r[name]))
    return result


def rates(  # type: ignore[no-untyped-def]
    *,
    user,
    unit: Unit = "fracture",
    **filters: Unpack[Selection],
) -> dict[str, Any]:
    """Complication rates per window, per term and per SOC (``/api/v1/stats/rates/``).

    Three queries whatever the size of the registry: the windows, by term, by
    system organ class. See the module docstring for the selection.
    """
    fractures = selected_fractures(user=user, **filters)
    units = _units(user, unit, fractures)
    row = units.rows.aggregate(**_window_counts(units))
    rows, unit_lookup = _grouped_units(user, unit, fractures)
    prefix = "complicationevent__" if unit == "fracture" else ""
    return {
        "unit": unit,
        "windows": _windows(row),
        "by_term": _breakdown_by(
            rows,
            unit_lookup,
            prefix,
            {"term": "term_id", "term_name": "term__name", "soc": "term__soc"},
        ),
        "by_soc": _breakdown_by(rows, unit_lookup, prefix, {"soc": "term__soc"}),
    }


def breakdown(  # type: ignore[no-untyped-def]
    *,
    user,
    unit: Unit = "fracture",
    **filters: Unpack[Selection],
) -> dict[str, Any]:
    """What the dashboard's charts draw: rates per quarter, per fracture type
    and per site, and the distribution of the units' highest grades.

    Quarters are those of the procedure start, in the current time zone; for
    the patient unit a quarter counts the patients treated in it, with the
    complications and contacts of that quarter's procedures. Rates by
    fracture type and by site are always per fracture: a procedure treating a
    sacrum and an acetabulum would otherwise belong to two groups at once.
    Four queries.
    """
    fractures = selected_fractures(user=user, **filters)
    units = _units(user, unit, fractures)
    totals = units.rows.aggregate(**_window_counts(units, with_grades=True))
    per_quarter = (
        units.rows.annotate(quarter=TruncQuarter(units.started_at))
        .values("quarter")
        .annotate(**_window_counts(units))
        .order_by("quarter")
    )
    per_fracture = _units(user, "fracture", fractures)

    def per(field: str) -> dict[str, dict[str, Any]]:
        grouped = per_fracture.rows.values(field).annotate(**_window_counts(per_fracture))
        return {row[field]: row for row in grouped.order_by()}

    per_type, per_site = per("type"), per("site")
    return {
        "unit": unit,
        "by_quarter": [
            {"quarter": _quarter_label(r["quarter"]), "windows": _windows(r)} for r in per_quarter
        ],
        "by_fracture_type": [
            {"fracture_type": value, "label": str(label), "windows": _windows(per_type[value])}
            for value, label in FractureType.choices
            if value in per_type
        ],
        "by_site": [
            {"site": value, "label": str(label), "windows": _windows(per_site[value])}
            for value, label in Site.choices
            if value in per_site
        ],
        "grades": _highest_grades(totals),
    }


def _quarter_label(start: datetime | date) -> str:
    return f"{start.year}-Q{(start.month - 1) // 3 + 1}"


def _one_decimal(value: Decimal) -> float:
    """Half-up to one decimal, like the percentages of ``rates.percent``."""
    return float(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _mean_and_sd(n: int, total: int | None, squares: int | None) -> dict[str, float | None]:
    """Mean and sample standard deviation of n whole numbers from their sums.

    Summing in SQL keeps the two databases in agreement (SQLite's STDDEV_SAMP
    fails on a single value where PostgreSQL returns null), and integer sums
    are exact, so the half-up rounding sees the true value.
    """
    if not n or total is None or squares is None:
        return {"mean": None, "sd": None}
    mean = Decimal(total) / Decimal(n)
    if n < 2:
        return {"mean": _one_decimal(mean), "sd": None}
    variance = Decimal(n * squares - total * total) / Decimal(n * (n - 1))
    return {"mean": _one_decimal(mean), "sd": _one_decimal(variance.sqrt())}


def cohort(  # type: ignore[no-untyped-def]
    *,
    user,
    **filters: Unpack[Selection],
) -> dict[str, Any]:
    """The study population table (``/api/v1/stats/cohort/``), in two queries.

    Age is in whole years at the patient's first procedure of the selection
    (local dates in the current time zone), computed in SQL from the year,
    month and day so that both SQLite and PostgreSQL agree. Follow-up beyond
    24 hours counts the fractures in the delayed denominator of ``rates``
    (a contact more than 24 h after the end, or a delayed complication), and
    the patients with at least one such fracture.
    """
    fractures = selected_fractures(user=user, **filters)
    birthday_not_yet = Q(first_month__lt=F("birth_month")) | Q(
        first_month=F("birth_month"), first_day__lt=F("birth_day")
    )
    # One row per patient: their first selected procedure, then the age at it.
    people = (
        _selected_procedures(user, fractures)
        .values("patient")
        .annotate(
            first_start=Min("started_at"),
            sex=F("patient__sex"),
            born=F("patient__birth_date"),
        )
        .annotate(
            first_month=ExtractMonth("first_start"),
            first_day=ExtractDay("first_start"),
            birth_month=ExtractMonth("born"),
            birth_day=ExtractDay("born"),
        )
        .annotate(
            age=ExtractYear("first_start")
            - ExtractYear("born")
            - Case(
                When(birthday_not_yet, then=Value(1)), default=Value(0), output_field=IntegerField()
            )
        )
        .annotate(age_squared=F("age") * F("age"))
        .order_by()
        .aggregate(
            patients=Count("first_start"),
            female=Count("first_start", filter=Q(sex=Sex.FEMALE)),
            male=Count("first_start", filter=Q(sex=Sex.MALE)),
            aged=Count("age"),
            age_sum=Sum("age"),
            age_squares=Sum("age_squared"),
            min=Min("age"),
            max=Max("age"),
        )
    )
    # The delayed denominator's evidence, as in ``_window_counts``.
    beyond_24h = Q(follow_ups__contact_at__gt=F("procedure__ended_at") + DAY) | Q(
        complications__window=Window.DELAYED
    )
    cases = fractures.aggregate(
        procedures=Count("procedure", distinct=True),
        fractures=Count("pk", distinct=True),
        beyond_fractures=Count("pk", distinct=True, filter=beyond_24h),
        beyond_patients=Count("procedure__patient", distinct=True, filter=beyond_24h),
        **{
            f"type_{value}": Count("pk", distinct=True, filter=Q(type=value))
            for value in FractureType.values
        },
    )
    n_patients, n_fractures = people["patients"], cases["fractures"]
    return {
        "patients": n_patients,
        "female": people["female"],
        "male": people["male"],
        "age": {
            **_mean_and_sd(people["aged"], people["age_sum"], people["age_squares"]),
            "min": people["min"],
            "max": people["max"],
        },
        "procedures": cases["procedures"],
        "fractures": n_fractures,
        "fracture_types": {
            value: {
                "n": cases[f"type_{value}"],
                "percent": percent(cases[f"type_{value}"], n_fractures),
            }
            for value in FractureType.values
        },
        "followup_beyond_24h": {
            "fractures": cases["beyond_fractures"],
            "fractures_percent": percent(cases["beyond_fractures"], n_fractures),
            "patients": cases["beyond_patients"],
            "patients_percent": percent(cases["beyond_patients"], n_patients),
        },
    }


def period(  # type: ignore[no-untyped-def]
    *,
    user,
    **filters: Unpack[Selection],
) -> dict[str, date | None]:
    """The local dates of the first and last procedures of the selection (one query)."""
    fractures = selected_fractures(user=user, **filters)
    bounds = fractures.aggregate(
        first=Min("procedure__started_at"), last=Max("procedure__started_at")
    )
    return {key: timezone.localdate(value) if value else None for key, value in bounds.items()}


def most_frequent_major(
    rates_result: dict[str, Any], window: str, *, by: Literal["by_term", "by_soc"] = "by_term"
) -> list[dict[str, Any]]:
    """The terms (or SOCs) with the most units with a major complication in the window.

    Ties are all returned. Each row is the ``by_term`` (``by_soc``) row with
    ``at_risk`` and ``percent`` of the window's denominator, as the study
    reports "infection, 3/79 (3.8 %)" (there, infection is the SOC: two wound
    infections and one bone infection).
    """
    rows = [r for r in rates_result[by] if r["window"] == window and r["major"] > 0]
    if not rows:
        return []
    top = max(r["major"] for r in rows)
    at_risk = rates_result["windows"][window]["at_risk"]
    return [
        {**r, "at_risk": at_risk, "percent": percent(r["major"], at_risk)}
        for r in rows
        if r["major"] == top
    ]


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
        .annotate(
            covered_early=Exists(covering.filter(contact_at__gt=F("procedure__ended_at"))),
            covered_delayed=Exists(covering.filter(contact_at__gt=F("procedure__ended_at") + DAY)),
        )
        .filter(
            Q(window=Window.EARLY, covered_early=False)
            | Q(window=Window.DELAYED, covered_delayed=False)
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
        .annotate(
            contact_after_end=Exists(contacts.filter(contact_at__gt=F("procedure__ended_at"))),
            contact_beyond_24h=Exists(
                contacts.filter(contact_at__gt=F("procedure__ended_at") + DAY)
            ),
        )
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


def cusum_series(  # type: ignore[no-untyped-def]
    *, user, department: Department | int, window: str
) -> list[dict[str, Any]]:
    """The department's fractures at risk in the window, oldest procedure first,
    each with ``major``: whether it had a major complication in the window.

    What the quality CUSUM charts: a fracture is in the chart when it is in
    the window's denominator of ``rates`` (every fracture during the
    procedure; followed up after the end, or beyond 24 hours, for the early
    and delayed windows), so the chart compares the same proportion as the
    dashboard's "major" rate with the target. One query, grouped per fracture
    with the same conditional counts as ``rates``; ties in start time are
    broken by procedure then fracture id, so the order is stable.
    """
    if window not in WINDOWS:
        raise ValueError(f"unknown window {window!r}; expected one of {', '.join(WINDOWS)}")
    fractures = selected_fractures(user=user, department=department)
    units = _units(user, "fracture", fractures)
    counts = _window_counts(units)
    rows = (
        fractures.values("pk", "procedure_id", "procedure__started_at")
        .annotate(at_risk=counts[f"{window}__at_risk"], major=counts[f"{window}__major"])
        .filter(at_risk__gt=0)
        .order_by("procedure__started_at", "procedure_id", "pk")
    )
    return [
        {
            "fracture": row["pk"],
            "procedure": row["procedure_id"],
            "started_at": row["procedure__started_at"],
            "major": row["major"] > 0,
        }
        for row in rows
    ]
