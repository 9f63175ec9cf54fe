"""How the summary stores what it keeps: the (type, site) masks, the rollup periods and keys."""

from __future__ import annotations

from datetime import date

from django.db.models import BigIntegerField, Case, Value, When

from registry.models import FractureType, Site

# One bit per (fracture type, site) pair: bit = type index * len(Site) + site index.
# The order of the choices is part of the stored masks: changing the choices needs
# ``outcomes_rebuild`` (a migration that adds a choice should run it).
PAIRS = [(t, s) for t in FractureType.values for s in Site.values]


def mask_bits(*, fracture_type: str | None = None, site: str | None = None) -> int:
    """The bits of ``fractures_mask`` that stand for the pairs matching the filters."""
    bits = 0
    for index, (t, s) in enumerate(PAIRS):
        if (fracture_type is None or t == fracture_type) and (site is None or s == site):
            bits |= 1 << index
    return bits


def pair_bit(type_path: str, site_path: str) -> Case:
    return Case(
        *[
            When(**{type_path: t, site_path: s}, then=Value(1 << index))
            for index, (t, s) in enumerate(PAIRS)
        ],
        default=Value(0),
        output_field=BigIntegerField(),
    )


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


MONTH, YEAR = "month", "year"  # the periods of the rollup rows


KEYS = ("unit", "department_id", "window", "term_id", "pigsf_event", "soc")
