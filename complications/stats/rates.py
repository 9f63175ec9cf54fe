"""Complication rates per window, per term and per SOC."""

from __future__ import annotations

from typing import Any, Literal, Unpack

from django.db.models import Count, QuerySet, Sum

from complications.counting import is_major
from complications.ctcae.pigsf import PIGSF_EVENTS
from complications.ctcae.rates import percent
from complications.models import CtcaeTerm
from complications.stats.counts import unit_totals, window_rates
from complications.stats.rollup import Split, rollup_split
from complications.stats.selection import WINDOWS, Selection, Unit, Units, unit_rows


def _breakdown_by(units: Units, split: Split | None, key: str) -> list[dict[str, Any]]:
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
            "major": Count(where.term_key, distinct=where.distinct, filter=is_major()),
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
    units = unit_rows(user, unit, filters)
    split = rollup_split(user, unit, filters)
    return {
        "unit": unit,
        "windows": window_rates(unit_totals(units, split)),
        "by_term": _breakdown_by(units, split, "term"),
        "by_soc": _breakdown_by(units, split, "soc"),
    }


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
