"""Small builders for clinical records in tests.

They write rows directly with the ORM (no service), so that selector and API
tests can build exactly the cohort a counting rule needs. Service tests use the
services instead. Like the services, each builder brings the outcome summary
of its procedure up to date (``complications.outcomes``), which the rates read.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from complications.models import ComplicationEvent, CtcaeTerm
from complications.outcomes.refresh import outcomes_refresh
from registry.models import Department, FollowUp, Fracture, Patient, Procedure

PARIS = ZoneInfo("Europe/Paris")
_seq = itertools.count(1)

# A few real CTCAE v5.0 terms (code, name, SOC) for hand-built cohorts.
WOUND_INFECTION = ("10048038", "Wound infection", "Infections and infestations")
BONE_INFECTION = ("10061017", "Bone infection", "Infections and infestations")
PAIN_IN_EXTREMITY = (
    "10033425",
    "Pain in extremity",
    "Musculoskeletal and connective tissue disorders",
)
HEMATOMA = ("10018852", "Hematoma", "Vascular disorders")


def term(code_name_soc: tuple[str, str, str] = WOUND_INFECTION) -> CtcaeTerm:
    code, name, soc = code_name_soc
    obj, _ = CtcaeTerm.objects.get_or_create(
        code=code,
        defaults={"name": name, "soc": soc, "grade_1": "x", "grade_2": "x", "grade_3": "x"},
    )
    return obj


def patient(
    department: Department,
    *,
    sex: str = "female",
    birth_date: date = date(1950, 1, 1),
    registry_id: str | None = None,
) -> Patient:
    return Patient.objects.create(
        department=department,
        registry_id=registry_id or f"P{next(_seq):05d}",
        sex=sex,
        birth_date=birth_date,
    )


def procedure(
    pat: Patient,
    *,
    started_at: datetime | None = None,
    minutes: int = 90,
    guidance: str = "ct",
    anesthesia: str = "general",
    operator: str = "",
) -> Procedure:
    start = started_at or datetime(2020, 1, 6, 9, 0, tzinfo=PARIS)
    return Procedure.objects.create(
        patient=pat,
        started_at=start,
        ended_at=start + timedelta(minutes=minutes),
        guidance=guidance,
        anesthesia=anesthesia,
        operator=operator,
    )


def fracture(
    proc: Procedure,
    *,
    type: str = "insufficiency",
    site: str = "sacrum",
    side: str = "left",
    screws: int = 1,
) -> Fracture:
    made = Fracture.objects.create(procedure=proc, type=type, site=site, side=side, screws=screws)
    outcomes_refresh(procedure_ids=[proc.pk])
    return made


def follow_up(
    proc: Procedure,
    *,
    hours_after_end: float,
    fractures: list[Fracture] | None = None,
    kind: str = "clinical",
) -> FollowUp:
    fu = FollowUp.objects.create(
        procedure=proc, contact_at=proc.ended_at + timedelta(hours=hours_after_end), kind=kind
    )
    fu.fractures.set(fractures if fractures is not None else list(proc.fractures.all()))
    outcomes_refresh(procedure_ids=[proc.pk])
    return fu


def complication(
    proc: Procedure,
    *,
    window: str,
    grade: int,
    term_code=WOUND_INFECTION,
    fractures: list[Fracture] | None = None,
    hours_after_end: float | None = None,
) -> ComplicationEvent:
    """A complication with its derived fields set directly (window, grade)."""
    if window == "per_procedural":
        onset = {"during_procedure": True}
        hours = None
    else:
        hours = (
            hours_after_end if hours_after_end is not None else (2.0 if window == "early" else 72.0)
        )
        onset = {"onset_at": proc.ended_at + timedelta(hours=hours)}
    event = ComplicationEvent.objects.create(
        procedure=proc,
        term=term(term_code),
        auto_grade=grade,
        window=window,
        hours_after_end=hours,
        grade_rationale=f"Grade {grade}: set by the test factory",
        # Grade 5 is death related to the event (the services refuse any other outcome).
        outcome="death" if grade == 5 else "",
        **onset,
    )
    event.fractures.set(fractures if fractures is not None else list(proc.fractures.all()))
    outcomes_refresh(procedure_ids=[proc.pk])
    return event
