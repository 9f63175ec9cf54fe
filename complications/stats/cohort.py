"""The study population table and the selection's period."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Unpack

from django.db.models import Case, Count, F, IntegerField, Max, Min, Q, Sum, Value, When
from django.db.models.functions import ExtractDay, ExtractMonth, ExtractYear

from complications.counting import AT_RISK
from complications.ctcae.rates import percent
from complications.models import FractureOutcome, Window
from complications.stats.selection import (
    Selection,
    selected_fractures,
    selected_procedures,
    summary_rows,
)
from registry.models import FractureType, Sex


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
        selected_procedures(user, fractures)
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
    cases = summary_rows(FractureOutcome, user=user, **filters).aggregate(
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
    return summary_rows(FractureOutcome, user=user, **filters).aggregate(
        first=Min("started_on"), last=Max("started_on")
    )
