"""Reads of the complication domain: live rates, the cohort table, data quality.

The rates read the outcome summary (``complications.outcomes``): per fracture
and per procedure, the highest grade in each window and whether a contact was
recorded after the end and more than 24 hours after it; per (unit, window,
term) and (unit, window, SOC), the highest grade. The services keep it exact in
the same transaction as every clinical write, so each statistic is a few
conditional counts over one narrow table, with a fixed number of queries
however large the registry grows (joining fractures, complications and contacts
at read time took seconds to a minute at a million fractures:
docs/benchmarks.md). Python only rounds and arranges the few resulting rows.

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

Every selection starts from ``registry.scoping.scope_to_user`` (the summary rows
carry their department).

The counting rules are those of docs/domain.md section 4; the M2M rows
(``ComplicationEvent.fractures``, ``FollowUp.fractures``) are taken as the truth
of which fractures an event concerns or a contact covers: for one recorded for
all the procedure's fractures (``all_fractures``) the services link every
fracture, those recorded later too. Dates (filters, months, quarters, ages) are
the procedures' local start dates in their department's time zone
(``Procedure.started_on``), never the server's. The data-quality
lists, which name individual records, read the clinical tables directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal, TypedDict, Unpack

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

from complications.ctcae import GRADES, MAJOR_GRADE
from complications.ctcae.pigsf import PIGSF_EVENTS
from complications.ctcae.rates import percent, rate_summary
from complications.models import (
    ComplicationEvent,
    CtcaeTerm,
    FractureOutcome,
    FractureTermOutcome,
    OutcomeMonth,
    OutcomeTermMonth,
    ProcedureOutcome,
    ProcedureTermOutcome,
    Window,
)
from complications.outcomes import (
    AT_RISK,
    DAY,
    MONTH,
    YEAR,
    mask_bits,
    next_month,
)
from registry.models import (
    Department,
    FollowUp,
    Fracture,
    FractureType,
    Procedure,
    Sex,
    Site,
)
from registry.scoping import scope_to_user, visible_departments

Unit = Literal["fracture", "procedure", "patient"]
UNITS: tuple[str, ...] = ("fracture", "procedure", "patient")
WINDOWS: tuple[str, ...] = tuple(Window.values)  # per_procedural, early, delayed


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

    Dates are procedure start dates in each procedure's department time zone
    (``Procedure.started_on``, indexed), both inclusive.
    ``operator`` matches case-insensitively within the free-text operator(s)
    field, which may name several people.
    """
    fractures = scope_to_user(Fracture.objects.all(), user)
    if department is not None:
        fractures = fractures.filter(procedure__patient__department=department)
    if date_from is not None:
        fractures = fractures.filter(procedure__started_on__gte=date_from)
    if date_to is not None:
        fractures = fractures.filter(procedure__started_on__lte=date_to)
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


def _summary(model, *, user, **filters: Unpack[Selection]) -> QuerySet[Any]:  # type: ignore[no-untyped-def]
    """The rows of an outcome summary table (``complications.outcomes``) that the
    filters select, scoped to the user's departments: the same selection as
    ``selected_fractures``, on the columns the summary copies from the procedure
    and fracture. On the procedure tables, the fracture filters test the
    procedure's (type, site) bits: a procedure is selected when one of its
    fractures matches both."""
    rows = scope_to_user(model.objects.all(), user)
    if (department := filters.get("department")) is not None:
        rows = rows.filter(department=department)
    if (date_from := filters.get("date_from")) is not None:
        rows = rows.filter(started_on__gte=date_from)
    if (date_to := filters.get("date_to")) is not None:
        rows = rows.filter(started_on__lte=date_to)
    if guidance := filters.get("guidance"):
        rows = rows.filter(guidance=guidance)
    if operator := filters.get("operator"):
        rows = rows.filter(operator__icontains=operator.strip())
    fracture_type, site = filters.get("fracture_type") or None, filters.get("site") or None
    if fracture_type or site:
        if model in (FractureOutcome, FractureTermOutcome):
            rows = rows.filter(**({"type": fracture_type} if fracture_type else {}))
            rows = rows.filter(**({"site": site} if site else {}))
        else:
            bits = mask_bits(fracture_type=fracture_type, site=site)
            rows = rows.alias(matching=F("fractures_mask").bitand(bits)).filter(matching__gt=0)
    return rows


@dataclass(frozen=True)
class _Units:
    """Where one unit's evidence is: the summary rows, the lookup that names the
    unit in a row, and whether a unit spans several rows (a patient spans their
    procedures; a fracture or a procedure is one row, so it counts without
    DISTINCT); the same for the per-term rows.
    """

    rows: QuerySet[Any]
    key: str
    distinct: bool
    term_rows: QuerySet[Any]
    term_key: str


def _units(user, unit: str, filters: Selection) -> _Units:  # type: ignore[no-untyped-def]
    if unit == "fracture":
        return _Units(
            _summary(FractureOutcome, user=user, **filters),
            "pk",
            False,
            _summary(FractureTermOutcome, user=user, **filters),
            "fracture_id",
        )
    if unit in ("procedure", "patient"):
        return _Units(
            _summary(ProcedureOutcome, user=user, **filters),
            "pk" if unit == "procedure" else "patient_id",
            unit == "patient",
            _summary(ProcedureTermOutcome, user=user, **filters),
            "procedure_id" if unit == "procedure" else "patient_id",
        )
    raise ValueError(f"unknown unit {unit!r}; expected one of {', '.join(UNITS)}")


@dataclass(frozen=True)
class _Split:
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
    edges: _Units


_MONTHLY_FILTERS = ("department", "date_from", "date_to")


def _split(user, unit: str, filters: Selection) -> _Split | None:  # type: ignore[no-untyped-def]
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
    units = _units(user, unit, {"department": department})

    def rollup(model, condition: Q):  # type: ignore[no-untyped-def]
        rows = scope_to_user(model.objects.filter(unit=unit), user).filter(condition)
        return rows if department is None else rows.filter(department=department)

    return _Split(
        totals=rollup(OutcomeMonth, whole),
        term_totals=rollup(OutcomeTermMonth, whole),
        months=rollup(OutcomeMonth, Q(period=MONTH) & months),
        edges=_Units(
            units.rows.filter(edges),
            units.key,
            units.distinct,
            units.term_rows.filter(edges),
            units.term_key,
        ),
    )


def _window_counts(units: _Units, *, with_grades: bool = False) -> dict[str, Count]:
    """Conditional counts of units over their summary rows (one GROUP BY level, so
    they also work per group).

    - ``<window>__at_risk``: the window's denominator (``outcomes.AT_RISK``);
    - ``<window>__events``: units with a complication in the window, and
      ``__major`` those whose highest grade there is major;
    - ``<window>__grade_<k>_up`` (``with_grades``): units whose highest grade
      is k or more, whose differences give the highest-grade distribution.
    """

    def count(condition: Q | None = None) -> Count:
        return Count(units.key, distinct=units.distinct, filter=condition)

    aggregates = {}
    for window in WINDOWS:
        grade = f"grade_{window}"
        aggregates[f"{window}__at_risk"] = count(AT_RISK[window])
        aggregates[f"{window}__events"] = count(Q(**{f"{grade}__gt": 0}))
        aggregates[f"{window}__major"] = count(Q(**{f"{grade}__gte": MAJOR_GRADE}))
        if with_grades:
            for k in GRADES:
                aggregates[f"{window}__grade_{k}_up"] = count(Q(**{f"{grade}__gte": k}))
    return aggregates


def _month_sums(*, with_grades: bool = False) -> dict[str, Sum]:
    """``_window_counts``'s keys, as sums of the monthly rollup's columns."""
    at_risk = {
        Window.PER_PROCEDURAL.value: "units",
        Window.EARLY.value: "at_risk_early",
        Window.DELAYED.value: "at_risk_delayed",
    }
    sums = {}
    for window in WINDOWS:
        sums[f"{window}__at_risk"] = Sum(at_risk[window])
        sums[f"{window}__events"] = Sum(f"{window}_1")
        sums[f"{window}__major"] = Sum(f"{window}_{MAJOR_GRADE}")
        if with_grades:
            for k in GRADES:
                sums[f"{window}__grade_{k}_up"] = Sum(f"{window}_{k}")
    return sums


def _added(*rows: dict[str, Any]) -> dict[str, int]:
    """Counts added key by key (a sum over no rollup row is None: 0)."""
    return {key: sum(row[key] or 0 for row in rows) for key in rows[0]}


def _totals(units: _Units, split: _Split | None, *, with_grades: bool = False) -> dict[str, int]:
    """The unit counts of ``_window_counts`` for the whole selection."""
    if split is None:
        return units.rows.aggregate(**_window_counts(units, with_grades=with_grades))
    return _added(
        split.totals.aggregate(**_month_sums(with_grades=with_grades)),
        split.edges.rows.aggregate(**_window_counts(split.edges, with_grades=with_grades)),
    )


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


def _breakdown_by(units: _Units, split: _Split | None, key: str) -> list[dict[str, Any]]:
    """Units per (window, term) or per (window, SOC) (``key``: "term" or "soc")
    from the per-term summary rows (and the monthly rollup's, for whole months):
    ``events`` and ``major`` as unit counts.

    A unit's highest grade among the group's complications is major exactly
    when its row is major. A (unit, window, term) and a (unit, window, SOC) are
    one row each, so a fracture or a procedure counts without DISTINCT; a
    patient spans their procedures' rows. A screw-fixation event recorded under
    an "Other, specify" term (``ctcae.pigsf``) is part of the term's key: each
    event is a row of its own (``pigsf_event``: its export code), and the plain
    "Other, specify" row counts the free-text ones. Term names come from the
    catalogue afterwards, so the database groups by the term's code only.
    """
    per_term = key == "term"
    group = ("window", "term_id", "pigsf_event") if per_term else ("window", "soc")
    counts: dict[tuple[str, ...], tuple[int, int]] = {}

    def count(rows: QuerySet[Any], aggregates: dict[str, Any]) -> None:
        grouped = rows.filter(term__isnull=not per_term).values(*group).annotate(**aggregates)
        for row in grouped.order_by():
            name = tuple(row[field] for field in group)
            events, major = counts.get(name, (0, 0))
            counts[name] = (events + (row["events"] or 0), major + (row["major"] or 0))

    where = units if split is None else split.edges
    count(
        where.term_rows,
        {
            "events": Count(where.term_key, distinct=where.distinct),
            "major": Count(
                where.term_key, distinct=where.distinct, filter=Q(grade__gte=MAJOR_GRADE)
            ),
        },
    )
    if split is not None:
        count(split.term_totals, {"events": Sum("events"), "major": Sum("major")})
    terms = (
        {
            code: {"term": code, "term_name": name, "soc": soc}
            for code, name, soc in CtcaeTerm.objects.filter(
                pk__in={name[1] for name in counts}
            ).values_list("pk", "name", "soc")
        }
        if per_term and counts
        else {}
    )
    window_order = {w: i for i, w in enumerate(WINDOWS)}
    result = [
        {
            "window": name[0],
            **(_term_row(terms[name[1]], name[2]) if per_term else {"soc": name[1]}),
            "events": events,
            "minor": events - major,
            "major": major,
        }
        for name, (events, major) in counts.items()
        if events
    ]

    def order(row: dict[str, Any]) -> tuple[Any, ...]:
        label = (row["term_name"], row["pigsf_event_label"] or "") if per_term else (row["soc"],)
        return (window_order[row["window"]], -row["events"], -row["major"], *label)

    result.sort(key=order)
    return result


_PIGSF_EVENTS_BY_CODE = {event.code: event for event in PIGSF_EVENTS}


def _term_row(term: dict[str, str], pigsf_event: str) -> dict[str, Any]:
    """A by-term row's names: the term's, and the screw-fixation event's (or None)."""
    event = _PIGSF_EVENTS_BY_CODE.get(pigsf_event)
    return {
        **term,
        "pigsf_event": None if event is None else event.code,
        "pigsf_event_label": None if event is None else event.label,
    }


def rates(  # type: ignore[no-untyped-def]
    *,
    user,
    unit: Unit = "fracture",
    **filters: Unpack[Selection],
) -> dict[str, Any]:
    """Complication rates per window, per term and per SOC (``/api/v1/stats/rates/``).

    Four queries on the outcome summary whatever the size of the registry (the
    windows, by term and the terms' names, by SOC); for a selection by
    department and dates only, the whole months come from the monthly rollup
    and the days at the ends from the summary rows: up to three more.
    """
    units = _units(user, unit, filters)
    split = _split(user, unit, filters)
    return {
        "unit": unit,
        "windows": _windows(_totals(units, split)),
        "by_term": _breakdown_by(units, split, "term"),
        "by_soc": _breakdown_by(units, split, "soc"),
    }


def breakdown(  # type: ignore[no-untyped-def]
    *,
    user,
    unit: Unit = "fracture",
    **filters: Unpack[Selection],
) -> dict[str, Any]:
    """What the dashboard's charts draw: rates per quarter, per fracture type
    and per site, and the distribution of the units' highest grades.

    Quarters are those of the procedure's local start date (its department's
    time zone); for
    the patient unit a quarter counts the patients treated in it, with the
    complications and contacts of that quarter's procedures. Rates by
    fracture type and by site are always per fracture: a procedure treating a
    sacrum and an acetabulum would otherwise belong to two groups at once.
    Three queries (by type and by site from one grouping: fractures add up);
    for a selection by department and dates, the whole months from the rollup.
    """
    units = _units(user, unit, filters)
    split = _split(user, unit, filters)
    totals = _totals(units, split, with_grades=True)
    quarters: dict[str, list[dict[str, Any]]] = {}
    where = units if split is None else split.edges
    per_quarter = (
        where.rows.annotate(quarter=TruncQuarter("started_on"))
        .values("quarter")
        .annotate(**_window_counts(where))
        .order_by()
    )
    for row in per_quarter:
        quarters.setdefault(_quarter_label(row.pop("quarter")), []).append(row)
    if split is not None:
        for row in split.months.values("month").annotate(**_month_sums()).order_by():
            quarters.setdefault(_quarter_label(row.pop("month")), []).append(row)
    fractures = _units(user, "fracture", filters)
    per_pair = list(
        fractures.rows.values("type", "site").annotate(**_window_counts(fractures)).order_by()
    )

    def per(field: str) -> dict[str, dict[str, int]]:
        grouped: dict[str, list[dict[str, Any]]] = {}
        for row in per_pair:
            counts = {k: v for k, v in row.items() if k not in ("type", "site")}
            grouped.setdefault(row[field], []).append(counts)
        return {value: _added(*rows) for value, rows in grouped.items()}

    per_type, per_site = per("type"), per("site")
    return {
        "unit": unit,
        "by_quarter": [
            {"quarter": label, "windows": _windows(_added(*rows))}
            for label, rows in sorted(quarters.items())
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
    (its local start date in the department's time zone), computed in SQL from the year,
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
            first_start=Min("started_on"),
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
    # The delayed denominator's evidence, as in ``rates``.
    beyond_24h = AT_RISK[Window.DELAYED.value]
    cases = _summary(FractureOutcome, user=user, **filters).aggregate(
        procedures=Count("procedure", distinct=True),
        fractures=Count("pk"),
        beyond_fractures=Count("pk", filter=beyond_24h),
        beyond_patients=Count("patient_id", distinct=True, filter=beyond_24h),
        **{f"type_{value}": Count("pk", filter=Q(type=value)) for value in FractureType.values},
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
    return _summary(FractureOutcome, user=user, **filters).aggregate(
        first=Min("started_on"), last=Max("started_on")
    )


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
    on the fracture summary with the same denominator rule as ``rates``; ties
    in start time are broken by procedure then fracture id, so the order is stable.
    """
    if window not in WINDOWS:
        raise ValueError(f"unknown window {window!r}; expected one of {', '.join(WINDOWS)}")
    rows = (
        _summary(FractureOutcome, user=user, department=department)
        .filter(AT_RISK[window] or Q())
        .annotate(
            major=Case(
                When(**{f"grade_{window}__gte": MAJOR_GRADE}, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            )
        )
        .values("pk", "procedure_id", "started_at", "major")
        .order_by("started_at", "procedure_id", "pk")
    )
    return [
        {
            "fracture": row["pk"],
            "procedure": row["procedure_id"],
            "started_at": row["started_at"],
            "major": row["major"] > 0,
        }
        for row in rows
    ]
