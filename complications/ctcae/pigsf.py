"""The adverse events of screw fixation that CTCAE has no term for, as a controlled vocabulary.

CTCAE v5.0 grades them with an "Other, specify" term, whose specifying text is free. Left free,
"screw backed out", "back-out of screw" and "migration" become three rows of one by-term table.
Each event below names the "Other, specify" term (and so the organ class) it is recorded under:

- the screw's and the fixation's own failures (migration or back-out, loosening, breakage,
  non-union or loss of fixation) under Musculoskeletal and connective tissue disorder, as the
  reference study counts them;
- what goes wrong during the procedure itself (a malpositioned screw, cement leaking out of the
  bone, where the fracture records cement augmentation) under Injury, poisoning and procedural
  complications;
- fat or cement embolism under Vascular disorders.

The specifying text stays free: it starts with the event's label, and anything after a colon is
the clinician's own words ("Screw migration or back-out: into the gluteal muscles").
`event_of` reads the event back from a term and a specifying text; ``code`` is what exports carry.
"""

from __future__ import annotations

from dataclasses import dataclass

MUSCULOSKELETAL_OTHER = "10028395"
PROCEDURAL_OTHER = "10022117"
VASCULAR_OTHER = "10047065"


@dataclass(frozen=True)
class PigsfEvent:
    """A screw-fixation adverse event: export code, label, and its "Other, specify" term."""

    code: str
    label: str
    term: str


PIGSF_EVENTS: tuple[PigsfEvent, ...] = (
    PigsfEvent("PIGSF-MALPOSITION", "Screw malposition", PROCEDURAL_OTHER),
    PigsfEvent("PIGSF-MIGRATION", "Screw migration or back-out", MUSCULOSKELETAL_OTHER),
    PigsfEvent("PIGSF-LOOSENING", "Screw loosening", MUSCULOSKELETAL_OTHER),
    PigsfEvent("PIGSF-BREAKAGE", "Screw breakage", MUSCULOSKELETAL_OTHER),
    PigsfEvent("PIGSF-CEMENT-LEAK", "Cement leakage", PROCEDURAL_OTHER),
    PigsfEvent("PIGSF-NONUNION", "Non-union or loss of fixation", MUSCULOSKELETAL_OTHER),
    PigsfEvent("PIGSF-EMBOLISM", "Fat or cement embolism", VASCULAR_OTHER),
)


def events_for(term: str) -> tuple[PigsfEvent, ...]:
    """The events recorded under the "Other, specify" term with MedDRA code ``term``."""
    return tuple(event for event in PIGSF_EVENTS if event.term == term)


def specify_text(event: PigsfEvent, detail: str = "") -> str:
    """The specifying text that records ``event``, with the clinician's own words if any."""
    detail = " ".join(detail.split())
    return f"{event.label}: {detail}" if detail else event.label


def specify_forms(event: PigsfEvent) -> tuple[str, str]:
    """What a specifying text recording ``event`` equals, or starts with (case aside).

    The one statement of the rule: `event_of` applies it in Python, the complications filter
    of the API and the statistics' per-term rows as ``iexact`` / ``istartswith`` in the
    database (``complications.pigsf_lookups``).
    """
    return event.label, f"{event.label}:"


def event_of(term: str, specify: str) -> PigsfEvent | None:
    """The event a specifying text records under ``term``; None for free text.

    An event's label under another term is not the event (a malposition is not a vascular
    disorder).
    """
    # lower(), not casefold(): the database's lower() must give the same answer
    text = specify.lower()
    for event in events_for(term):
        whole, prefix = specify_forms(event)
        if text == whole.lower() or text.startswith(prefix.lower()):
            return event
    return None
