"""The counting rules (docs/domain.md sections 2 and 4), written once.

Every reader of the registry that counts complications or follow-up takes its
expressions from here: the outcome summary's producers, the statistics, the
data-quality lists, the exports (ORM and PostgreSQL SQL), the complications
filter of the API and the FHIR Bundle. The rules themselves come from the pure
core (``complications.ctcae``): the early window's limit and the major grade.

- the 24-hour limit: ``DAY`` (``ctcae.EARLY_PERIOD``);
- evidence of follow-up: a contact strictly after the procedure's end, and one
  more than 24 hours after it (``contact_evidence``, ``sql_contact_after_end``,
  ``sql_contact_beyond_24h``); on a summary row, each window's denominator
  (``AT_RISK``);
- the highest grade of a unit's complications per window (``highest_grade``,
  ``highest_grade_of``, ``sql_highest_grade``);
- major: grade >= ``ctcae.MAJOR_GRADE`` (``is_major``, ``sql_severity``; in
  Python, ``ctcae.severity_for``).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, IntegerField, Max, Q, QuerySet, Subquery
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce

from complications.ctcae import EARLY_PERIOD, MAJOR_GRADE
from complications.models import Window

# The early window's limit (docs/domain.md section 2), from the core that classifies onsets.
DAY = EARLY_PERIOD

# The evidence of follow-up for each window's denominator (docs/domain.md section 4),
# on a summary row: every unit during the procedure; for the early window, a
# contact after the end or a complication in the early or delayed window; for
# the delayed window, a contact more than 24 h after the end or a delayed one.
AT_RISK: dict[str, Q | None] = {
    Window.PER_PROCEDURAL.value: None,
    Window.EARLY.value: Q(contact_after_end=True) | Q(grade_early__gt=0) | Q(grade_delayed__gt=0),
    Window.DELAYED.value: Q(contact_beyond_24h=True) | Q(grade_delayed__gt=0),
}


def contact_evidence(contacts: QuerySet[Any], ended_at: Combinable) -> dict[str, Exists]:
    """``contact_after_end`` and ``contact_beyond_24h``: whether one of ``contacts``
    was recorded strictly after ``ended_at`` (the procedure's end, an ``F`` or an
    ``OuterRef``), and more than 24 hours after it."""
    return {
        "contact_after_end": Exists(contacts.filter(contact_at__gt=ended_at)),
        "contact_beyond_24h": Exists(contacts.filter(contact_at__gt=ended_at + DAY)),
    }


def highest_grade(path: str, window: str) -> Coalesce:
    """The highest grade of the complications at ``path`` (a lookup prefix such as
    ``"complications__"``) in the window, as an aggregate; 0 for none."""
    return Coalesce(Max(f"{path}grade", filter=Q(**{f"{path}window": window})), 0)


def highest_grade_of(events: QuerySet[Any], window: str) -> Subquery:
    """The highest grade of ``events`` in the window, as a subquery; null for none."""
    return Subquery(
        events.filter(window=window).order_by("-grade").values("grade")[:1],
        output_field=IntegerField(),
    )


def is_major(grade: str = "grade") -> Q:
    """The rows whose ``grade`` (a field or a summary's highest grade) is major."""
    return Q(**{f"{grade}__gte": MAJOR_GRADE})


# The same rules in PostgreSQL's SQL, for the CSV the database formats (exports/sql_csv.py).
_SQL_DAY = f"interval '{int(DAY.total_seconds())} seconds'"


def sql_contact_after_end(contact_at: str, ended_at: str) -> str:
    return f"{contact_at} > {ended_at}"


def sql_contact_beyond_24h(contact_at: str, ended_at: str) -> str:
    return f"{contact_at} > {ended_at} + {_SQL_DAY}"


def sql_highest_grade(grade: str, window_column: str, window: str) -> str:
    return f"max({grade}) FILTER (WHERE {window_column} = '{Window(window).value}')"


def sql_severity(grade: str) -> str:
    return f"CASE WHEN {grade} >= {MAJOR_GRADE} THEN 'major' ELSE 'minor' END"
