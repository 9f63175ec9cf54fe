"""CIRSE (Filippiadis et al., CVIR 2017) and SIR (A-F) outcome classes, from outcome facts.

Both are kept beside the CTCAE grade and never derived from it: CTCAE measures the severity of
the event, these scales measure its consequences for the patient's course. Each is derived
from the same structured facts so that the two cannot drift apart through retyping.

CIRSE classification system for complications:
  1 complication during the procedure, solved within the same session; no additional therapy,
    no post-procedure sequelae, no deviation from the normal post-therapeutic course;
  2 prolonged observation including overnight stay (< 48 h); no additional post-procedure
    therapy, no sequelae;
  3 additional post-procedure therapy or prolonged hospital stay (> 48 h) required; no sequelae;
  4 complication causing permanent mild sequelae (resuming work and independent living);
  5 complication causing permanent severe sequelae (requiring ongoing assistance in daily life);
  6 death.
SIR outcome classes: A no therapy, no consequence; B nominal therapy, no consequence, includes
overnight admission for observation only; C requires therapy, minor hospitalisation (< 48 h);
D requires major therapy, unplanned increase in level of care, prolonged hospitalisation
(>= 48 h); E permanent adverse sequelae; F death.
"""

from __future__ import annotations

from dataclasses import dataclass

ADDITIONAL_THERAPY: tuple[str, ...] = ("none", "nominal", "therapy", "major")
SEQUELAE: tuple[str, ...] = ("none", "mild", "severe")

# CIRSE writes "< 48 h" for grade 2 and "> 48 h" for grade 3, leaving exactly 48 h undefined; SIR
# puts 48 h in its higher class (D, ">= 48 hours"). Both scales here put 48 h in the higher class.
PROLONGED_STAY_HOURS = 48.0


@dataclass(frozen=True)
class OutcomeFacts:
    """What followed the complication.

    ``extra_stay_hours`` is the unplanned stay (observation or hospitalisation) it caused, None
    or 0 for none. ``additional_therapy`` is the post-procedure therapy it needed: "nominal"
    (e.g. a single analgesic dose, observation-level care), "therapy", or "major" therapy.
    """

    resolved_same_session: bool = False
    extra_stay_hours: float | None = None
    additional_therapy: str = "none"
    higher_level_of_care: bool = False
    sequelae: str = "none"
    death: bool = False

    def __post_init__(self) -> None:
        for name in ("resolved_same_session", "higher_level_of_care", "death"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false.")
        hours = self.extra_stay_hours
        if hours is not None and (isinstance(hours, bool) or not isinstance(hours, int | float)):
            raise ValueError("extra_stay_hours must be a number of hours.")
        if self.additional_therapy not in ADDITIONAL_THERAPY:
            raise ValueError(
                f"additional_therapy {self.additional_therapy!r} is not one of "
                f"{', '.join(ADDITIONAL_THERAPY)}."
            )
        if self.sequelae not in SEQUELAE:
            raise ValueError(f"sequelae {self.sequelae!r} is not one of {', '.join(SEQUELAE)}.")
        if self.extra_stay_hours is not None and not self.extra_stay_hours >= 0:
            raise ValueError("extra_stay_hours must be 0 or more.")

    @property
    def stay_hours(self) -> float:
        return self.extra_stay_hours or 0.0


def cirse_grade(facts: OutcomeFacts) -> int:
    """CIRSE grade 1-6: the most severe rung the facts reach.

    Grade 1 requires the complication to be solved in the same session; anything else deviates
    from the normal post-procedure course and is at least grade 2. CIRSE does not define
    "nominal" therapy (a SIR notion); the registry reads it as observation-level care, grade 2,
    so that the same event sits in CIRSE 2 and SIR B rather than jumping to CIRSE 3.
    """
    if facts.death:
        return 6
    if facts.sequelae == "severe":
        return 5
    if facts.sequelae == "mild":
        return 4
    if (
        facts.additional_therapy in ("therapy", "major")
        or facts.higher_level_of_care
        or facts.stay_hours >= PROLONGED_STAY_HOURS
    ):
        return 3
    if (
        facts.stay_hours > 0
        or facts.additional_therapy == "nominal"
        or not facts.resolved_same_session
    ):
        return 2
    return 1


def sir_class(facts: OutcomeFacts) -> str:
    """SIR outcome class A-F: the most severe class the facts reach."""
    if facts.death:
        return "F"
    if facts.sequelae != "none":
        return "E"
    if (
        facts.additional_therapy == "major"
        or facts.higher_level_of_care
        or facts.stay_hours >= PROLONGED_STAY_HOURS
    ):
        return "D"
    if facts.additional_therapy == "therapy":
        return "C"
    if facts.additional_therapy == "nominal" or facts.stay_hours > 0:
        return "B"
    return "A"
