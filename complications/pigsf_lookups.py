"""The screw-fixation vocabulary's rule (`ctcae.pigsf.specify_forms`) as database expressions.

The complications filter of the API and the outcome summary's per-term rows both ask the
database which event a complication records; both ask it here, so they cannot disagree.
"""

from __future__ import annotations

from django.db.models import CharField, Q, Value, When
from django.db.models.expressions import Case

from complications.ctcae.pigsf import PIGSF_EVENTS, PigsfEvent, specify_forms


def pigsf_event_condition(event: PigsfEvent, path: str = "") -> Q:
    """The complications (at ``path``, e.g. ``"complicationevent__"``) that record ``event``."""
    whole, prefix = specify_forms(event)
    return Q(**{f"{path}term_id": event.term}) & (
        Q(**{f"{path}specify__iexact": whole}) | Q(**{f"{path}specify__istartswith": prefix})
    )


def pigsf_event_code(path: str = "") -> Case:
    """The export code of the event a complication records; "" for free text."""
    return Case(
        *[
            When(pigsf_event_condition(event, path), then=Value(event.code))
            for event in PIGSF_EVENTS
        ],
        default=Value(""),
        output_field=CharField(),
    )
