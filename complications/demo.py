"""The demo department, its users, and a cohort that reproduces the reference study.

Autrusseau et al., Diagn Interv Imaging 2021;102(6):347-353 (docs/domain.md section 5):
94 patients (48 women), age 62.7 +/- 12.7 (32-88), 95 procedures, 110 fractures
(40 insufficiency, 53 pathological, 17 impending); 24-hour follow-up for all,
follow-up beyond 24 h for 79 fractures in 69 patients; complications per
fracture: per-procedural 3/110 (all minor), early 4/110 (1 major), delayed
14/79 (5 major, 3 of them infections).

Past 600 lines because most of it is data: the table of the study's complications, one row
per event with the facts that grade it.

The cohort is synthetic (no real patient) and deterministic: the same seed gives
the same records. It is entered through the services, so every grade and window
is derived by the grading service from recorded facts, as for a real case; the
builder then checks that each derived grade is the one intended.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from complications.models import QualityTarget
from complications.outcomes.refresh import outcomes_deferred
from complications.services import complication_record
from registry.demo import ensure_users
from registry.models import Department, Fracture, Procedure
from registry.services import (
    follow_up_create,
    fracture_create,
    patient_create,
    patient_update,
    procedure_create,
    procedure_update,
)

SEED = 2021
DEMO_CODE = "DEMO"
TZ = "Europe/Paris"

# Ages at the first procedure: 94 values, mean 62.69 (62.7), sample SD 12.67 (12.7),
# range 32-88 (normal quantiles around the study's figures, rounded to whole years).
AGES = [
    32,
    35,
    38,
    40,
    41,
    42,
    43,
    44,
    45,
    46,
    47,
    48,
    48,
    49,
    50,
    50,
    51,
    51,
    52,
    52,
    53,
    53,
    54,
    54,
    54,
    55,
    55,
    56,
    56,
    56,
    57,
    57,
    58,
    58,
    58,
    59,
    59,
    59,
    60,
    60,
    61,
    61,
    61,
    62,
    62,
    62,
    63,
    63,
    63,
    64,
    64,
    64,
    65,
    65,
    65,
    66,
    66,
    66,
    67,
    67,
    68,
    68,
    68,
    69,
    69,
    70,
    70,
    70,
    71,
    71,
    72,
    72,
    72,
    73,
    73,
    74,
    74,
    75,
    75,
    76,
    77,
    77,
    78,
    79,
    79,
    80,
    81,
    82,
    83,
    85,
    86,
    88,
    88,
    88,
]
N_PATIENTS, N_WOMEN = 94, 48
FIRST_DAY, LAST_DAY = date(2012, 7, 2), date(2020, 4, 27)
# Procedure 94 is the second procedure of patient 0 (a new fracture years later).
SECOND_PROCEDURE_OF = {94: 0}
# Procedures treating two fractures (15 of 95: 110 fractures in all).
DOUBLE = [3 + 6 * k for k in range(15)]
# Two-fracture procedures by kind: bilateral sacral insufficiency, two pathological, pathological + impending.
DOUBLE_KIND = {p: ("II" if k < 8 else "PP" if k < 12 else "PM") for k, p in enumerate(DOUBLE)}


@dataclass(frozen=True)
class DemoEvent:
    """An intended complication: where, when, the facts recorded, and the grade they must give."""

    procedure: int
    term: str
    facts: dict[str, Any]
    expect_grade: int
    hours: float | None = None  # after the end; None = during the procedure
    days_date_only: int | None = None  # date-only onset, this many local days after the end
    fracture: int | None = None  # index within the procedure; None = all its fractures
    specify: str = ""
    description: str = ""
    outcome: str = "resolved"
    relatedness: str = "definite"
    outcome_facts: dict[str, Any] = field(default_factory=dict)


HEMATOMA, PAIN, HYPOTENSION = "10019428", "10033371", "10021097"
PAIN_EXTREMITY, URINARY_RETENTION, FEVER = "10033425", "10046555", "10016558"
WOUND_INFECTION, BONE_INFECTION, FRACTURE = "10048038", "10061017", "10017076"
MSK_OTHER, BUTTOCK_PAIN, BACK_PAIN = "10028395", "10048677", "10003988"
SENSORY_NEUROPATHY, MOTOR_NEUROPATHY = "10034620", "10034580"
SEROMA, WOUND_COMPLICATION = "10040102", "10053692"


def _late_follow_up(rng: random.Random) -> set[int]:
    """Procedures with a contact beyond 24 h: 10 two-fracture and 59 one-fracture procedures,
    one per patient (69 patients, 79 fractures); patient 0's two procedures are not among them."""
    singles = [p for p in range(95) if p not in DOUBLE and p not in (0, 94)]
    return set(DOUBLE[:10]) | set(rng.sample(singles, 59))


def _events(late: set[int]) -> list[DemoEvent]:
    """The 22 complications: 3 per-procedural, 4 early, 15 delayed on 14 fractures.

    Delayed events happen only to procedures followed beyond 24 h; those that name no
    fracture are on one-fracture procedures, so each concerns exactly one fracture.
    """
    d = sorted(late - set(DOUBLE))
    return [
        # Per-procedural: 3 fractures, all minor.
        DemoEvent(
            5,
            HEMATOMA,
            {"symptoms": "mild", "intervention": "none"},
            1,
            description="Small gluteal haematoma at the entry point; manual compression.",
            outcome_facts={"resolved_same_session": True},
        ),
        DemoEvent(
            22,
            PAIN,
            {"symptoms": "moderate"},
            2,
            description="Procedural pain under sedation; extra analgesia.",
            outcome_facts={"resolved_same_session": True},
        ),
        DemoEvent(
            47,
            HYPOTENSION,
            {"intervention": "iv"},
            2,
            description="Hypotension after induction; fluids and vasopressor bolus.",
            relatedness="probable",
            outcome_facts={"resolved_same_session": True},
        ),
        # Early (< 24 h): 4 fractures, 1 major.
        DemoEvent(
            9,
            HEMATOMA,
            {"transfusion_units": 2, "hospitalization": True},
            3,
            hours=3,
            fracture=0,
            description="Gluteal haematoma along one screw track; 2 units of packed red cells.",
            outcome_facts={"extra_stay_hours": 72, "additional_therapy": "therapy"},
        ),
        DemoEvent(
            30,
            PAIN_EXTREMITY,
            {"symptoms": "moderate", "adl": "instrumental"},
            2,
            hours=6,
            description="Radiating thigh pain; oral analgesics.",
            outcome_facts={"additional_therapy": "nominal"},
        ),
        DemoEvent(
            61,
            URINARY_RETENTION,
            {
                "criteria": [
                    "Placement of urinary, suprapubic or intermittent catheter placement indicated"
                ]
            },
            2,
            hours=10,
            relatedness="possible",
            description="Retention after general anaesthesia; catheter.",
            outcome_facts={"extra_stay_hours": 20, "additional_therapy": "nominal"},
        ),
        DemoEvent(
            76,
            FEVER,
            {"temperature_c": 38.4, "fever_hours": 6},
            1,
            hours=14,
            relatedness="possible",
            description="Transient fever, cultures negative.",
            outcome_facts={},
        ),
        # Delayed (>= 24 h): 14 fractures, 5 major (3 infections).
        DemoEvent(
            d[2],
            WOUND_INFECTION,
            {"intervention": "iv", "hospitalization": True},
            3,
            hours=12 * 24,
            description="Surgical site infection; IV antibiotics.",
            outcome_facts={"extra_stay_hours": 240, "additional_therapy": "major"},
        ),
        DemoEvent(
            d[2],
            PAIN_EXTREMITY,
            {"symptoms": "mild"},
            1,
            hours=4 * 24 + 5,
            description="Mild pain at the entry point before the infection declared itself.",
            outcome_facts={},
        ),
        DemoEvent(
            d[8],
            WOUND_INFECTION,
            {"intervention": "invasive"},
            3,
            hours=21 * 24,
            description="Infected entry wound; surgical debridement.",
            outcome_facts={"extra_stay_hours": 96, "additional_therapy": "major"},
        ),
        DemoEvent(
            d[14],
            BONE_INFECTION,
            {"intervention": "iv"},
            3,
            hours=40 * 24,
            description="Osteitis around the screw; IV antibiotics for six weeks.",
            outcome="resolved_with_sequelae",
            outcome_facts={
                "extra_stay_hours": 336,
                "additional_therapy": "major",
                "sequelae": "mild",
            },
        ),
        DemoEvent(
            d[20],
            FRACTURE,
            {"symptoms": "severe", "intervention": "invasive"},
            3,
            hours=30 * 24,
            relatedness="probable",
            description="Secondary femoral neck fracture below the screw; arthroplasty.",
            outcome_facts={"extra_stay_hours": 168, "additional_therapy": "major"},
        ),
        DemoEvent(
            d[26],
            MSK_OTHER,
            {"symptoms": "severe", "hospitalization": True},
            3,
            hours=50 * 24,
            specify="Screw migration requiring revision",
            description="Screw backed out into the soft tissues; revision.",
            outcome_facts={"extra_stay_hours": 72, "additional_therapy": "major"},
        ),
        DemoEvent(
            d[31],
            PAIN_EXTREMITY,
            {"symptoms": "mild"},
            1,
            hours=5 * 24,
            description="Mild thigh pain, no treatment.",
            outcome_facts={},
        ),
        DemoEvent(
            d[35],
            BUTTOCK_PAIN,
            {"symptoms": "moderate", "adl": "instrumental"},
            2,
            hours=8 * 24,
            description="Buttock pain at the screw head; oral analgesics.",
            outcome_facts={"additional_therapy": "nominal"},
        ),
        DemoEvent(
            d[39],
            SENSORY_NEUROPATHY,
            {"symptoms": "none"},
            1,
            hours=3 * 24,
            description="Hypoaesthesia in the L5 territory on examination only.",
            relatedness="possible",
            outcome_facts={},
        ),
        DemoEvent(
            d[43],
            MOTOR_NEUROPATHY,
            {"symptoms": "moderate", "adl": "instrumental"},
            2,
            hours=2 * 24,
            description="Weak ankle dorsiflexion; physiotherapy.",
            relatedness="probable",
            outcome="resolved_with_sequelae",
            outcome_facts={"additional_therapy": "therapy", "sequelae": "mild"},
        ),
        DemoEvent(
            d[47],
            SEROMA,
            {"symptoms": "none", "intervention": "none"},
            1,
            days_date_only=10,
            description="Seroma seen on follow-up CT.",
            outcome_facts={},
        ),
        DemoEvent(
            d[51],
            MSK_OTHER,
            {"symptoms": "mild", "intervention": "none"},
            1,
            hours=45 * 24,
            specify="Screw backing out, asymptomatic",
            description="3 mm screw backing out on CT, no displacement.",
            outcome="ongoing",
            outcome_facts={},
        ),
        DemoEvent(
            d[55],
            WOUND_COMPLICATION,
            {"criteria": ["Bedside local care indicated"]},
            2,
            hours=7 * 24,
            description="Delayed healing of the entry wound; dressings.",
            outcome_facts={"additional_therapy": "nominal"},
        ),
        DemoEvent(
            d[58],
            BACK_PAIN,
            {"symptoms": "moderate"},
            2,
            days_date_only=15,
            description="Low back pain; oral analgesics.",
            relatedness="possible",
            outcome_facts={"additional_therapy": "nominal"},
        ),
        DemoEvent(
            DOUBLE[9],
            PAIN_EXTREMITY,
            {"symptoms": "moderate"},
            2,
            hours=20 * 24,
            fracture=1,
            description="Hip pain on one of the two treated sides; oral analgesics.",
            outcome_facts={},
        ),
    ]


def _procedure_day(index: int) -> date:
    span = (LAST_DAY - FIRST_DAY).days
    day = FIRST_DAY + timedelta(days=round(index * span / 94))
    return day + timedelta(days=(7 - day.weekday()) % 7 if day.weekday() >= 5 else 0)


def _birth_date(first_day: date, age: int, rng: random.Random) -> date:
    year = first_day.year - age
    anniversary = (
        first_day.replace(year=year)
        if not (first_day.month == 2 and first_day.day == 29)
        else date(year, 2, 28)
    )
    return anniversary - timedelta(days=rng.randint(1, 360))


def _fracture_specs(index: int, single_type: str, rng: random.Random) -> list[dict[str, Any]]:
    kinds = DOUBLE_KIND.get(index, single_type)
    specs = []
    for n, kind in enumerate(kinds):
        if kind == "I":
            site = (
                "sacrum"
                if index in DOUBLE_KIND
                else rng.choice(["sacrum"] * 5 + ["pubic_ramus", "iliac", "acetabulum"])
            )
            side = ("left", "right")[n] if index in DOUBLE_KIND else rng.choice(["left", "right"])
            specs.append(
                {
                    "type": "insufficiency",
                    "site": site,
                    "side": side,
                    "aetiology": rng.choice(["osteoporosis"] * 4 + ["radiation_induced"]),
                    "screws": rng.choice([1, 2, 2]),
                    "cement_augmented": False,
                }
            )
        else:
            pathological = kind == "P"
            site = rng.choice(
                ["acetabulum", "iliac", "femoral_neck", "proximal_femur", "sacrum"]
                if pathological
                else ["femoral_neck", "proximal_femur", "acetabulum"]
            )
            specs.append(
                {
                    "type": "pathological" if pathological else "impending",
                    "site": site,
                    "side": rng.choice(["left", "right"]),
                    "aetiology": rng.choice(["metastasis"] * 4 + ["myeloma"]),
                    "screws": rng.choice([1, 2, 3]),
                    "cement_augmented": rng.random() < 0.4,
                }
            )
    return specs


def build_cohort(department: Department, *, seed: int = SEED) -> dict[str, int]:
    """Enter the study's cohort into ``department`` through the services, in one
    transaction whose outcome summary is refreshed once at the end."""
    with outcomes_deferred():
        return _build_cohort(department, seed=seed)


def _build_cohort(department: Department, *, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    zone = ZoneInfo(department.time_zone)
    ages = AGES[:]
    rng.shuffle(ages)
    women = set(rng.sample(range(N_PATIENTS), N_WOMEN))
    single_types = list("I" * 24 + "P" * 42 + "M" * 14)
    rng.shuffle(single_types)
    late = _late_follow_up(rng)

    patients = []
    for i in range(N_PATIENTS):
        patients.append(
            patient_create(
                department=department,
                registry_id=f"PIGSF-{i + 1:03d}",
                sex="female" if i in women else "male",
                birth_date=_birth_date(_procedure_day(i), ages[i], rng),
            )
        )

    procedures: list[Procedure] = []
    fractures: list[list[Fracture]] = []
    singles = iter(single_types)
    for index in range(95):
        start = datetime.combine(_procedure_day(index), time(8, 30), zone) + timedelta(
            minutes=75 * (index % 6)
        )
        procedure = procedure_create(
            patient=patients[SECOND_PROCEDURE_OF.get(index, index)],
            started_at=start,
            ended_at=start + timedelta(minutes=45 + (index * 17) % 100),
            guidance=rng.choice(["ct_fluoroscopy"] * 3 + ["cbct", "ct"]),
            anesthesia=rng.choice(["general"] * 3 + ["sedation", "regional"]),
            operator=rng.choice(["JG", "RLC", "AC", "PD"]),
        )
        single = "" if index in DOUBLE_KIND else next(singles)
        fractures.append(
            [
                fracture_create(procedure=procedure, **spec)
                for spec in _fracture_specs(index, single, rng)
            ]
        )
        procedures.append(procedure)
        # The 24-hour check, for every procedure.
        follow_up_create(
            procedure=procedure,
            contact_at=procedure.ended_at + timedelta(hours=20),
            kind="clinical",
        )
        if index in late:
            follow_up_create(
                procedure=procedure,
                contact_at=procedure.ended_at + timedelta(days=90),
                kind="imaging",
            )

    mismatches = []
    for spec in _events(late):
        procedure = procedures[spec.procedure]
        onset: dict[str, Any]
        if spec.days_date_only is not None:
            onset = {
                "onset_date": procedure.ended_at.astimezone(zone).date()
                + timedelta(days=spec.days_date_only)
            }
        elif spec.hours is None:
            onset = {"during_procedure": True}
        else:
            onset = {"onset_at": procedure.ended_at + timedelta(hours=spec.hours)}
        event = complication_record(
            procedure=procedure,
            term=spec.term,
            facts=spec.facts,
            specify=spec.specify,
            fractures=None if spec.fracture is None else [fractures[spec.procedure][spec.fracture]],
            outcome=spec.outcome,
            relatedness=spec.relatedness,
            description=spec.description,
            outcome_facts=spec.outcome_facts,
            **onset,
        )
        if event.auto_grade != spec.expect_grade:
            mismatches.append(
                f"{event.term.name}: graded {event.auto_grade}, intended {spec.expect_grade}"
            )
    if mismatches:
        raise RuntimeError(
            "The grading service no longer grades the demo cohort as intended: "
            + "; ".join(mismatches)
        )
    _vital_statuses(patients, procedures, fractures, zone=zone, seed=seed)
    return {
        "patients": len(patients),
        "procedures": len(procedures),
        "fractures": sum(map(len, fractures)),
    }


# Share of the patients with a pathological fracture who die during follow-up (of their
# cancer: not of a recorded complication), and of those without late follow-up who are lost.
DEATH_SHARE_PATHOLOGICAL = 0.35
LOST_SHARE = 0.5


def _last_evidence_day(procedure: Procedure, zone: ZoneInfo) -> date:
    """The local day of the procedure's latest contact or complication onset (its end day
    without any): a death or a closing day may not come before it."""
    days = [procedure.ended_at.astimezone(zone).date()]
    days += [
        c.astimezone(zone).date() for c in procedure.follow_ups.values_list("contact_at", flat=True)
    ]
    for onset_at, onset_date in procedure.complications.values_list("onset_at", "onset_date"):
        if onset_date is not None:
            days.append(onset_date)
        elif onset_at is not None:
            days.append(onset_at.astimezone(zone).date())
    return max(days)


def _vital_statuses(
    patients: list[Any],
    procedures: list[Procedure],
    fractures: list[list[Fracture]],
    *,
    zone: ZoneInfo,
    seed: int,
) -> None:
    """Deaths among the patients with pathological fractures, and each procedure's follow-up
    closed (completed after the late contact, lost, or deceased), through the services.

    Drawn from a generator of its own, after everything else: the cohort's published numbers
    (its contacts, complications and so its crude rates) are those of the study whatever
    happens here. The deaths come after each patient's last contact or onset, as they must.
    """
    rng = random.Random(seed + 1)
    by_patient: dict[int, list[int]] = {}
    for index, procedure in enumerate(procedures):
        by_patient.setdefault(procedure.patient_id, []).append(index)
    for patient in patients:
        indices = by_patient.get(patient.pk, [])
        last = max(_last_evidence_day(procedures[i], zone) for i in indices)
        pathological = any(f.type == "pathological" for i in indices for f in fractures[i])
        if pathological and rng.random() < DEATH_SHARE_PATHOLOGICAL:
            death = last + timedelta(days=rng.randint(15, 400))
            patient_update(
                patient=patient,
                death_date=death,
                death_related=False,
                reason="Demo: death reported",
            )
            for i in indices:
                procedure_update(
                    procedure=procedures[i],
                    follow_up_status="deceased",
                    follow_up_closed_on=death,
                    reason="Demo: follow-up closed by death",
                )
            continue
        for i in indices:
            late = procedures[i].follow_ups.count() > 1
            if late or rng.random() < LOST_SHARE:
                procedure_update(
                    procedure=procedures[i],
                    follow_up_status="completed" if late else "lost",
                    follow_up_closed_on=_last_evidence_day(procedures[i], zone),
                    reason="Demo: follow-up closed",
                )


# Illustrative targets for major complications per fracture, so that the dashboard's
# CUSUM charts have something to watch: a department sets its own.
DEMO_TARGETS = {"per_procedural": 0.01, "early": 0.02, "delayed": 0.05}


def _ensure_quality_targets(department: Department) -> None:
    for window, rate in DEMO_TARGETS.items():
        QualityTarget.objects.get_or_create(
            department=department, window=window, defaults={"target_rate": rate}
        )


def ensure_demo(
    *, seed: int = SEED
) -> tuple[Department, list[tuple[str, str, str]], dict[str, int] | None]:
    """Idempotent: the department, users and cohort are created once; a second run only resets passwords."""
    department, _ = Department.objects.get_or_create(
        code=DEMO_CODE,
        defaults={
            "name": "Demo interventional radiology",
            "time_zone": TZ,
            "default_guidance": "ct_fluoroscopy",
        },
    )
    logins = ensure_users(department)
    counts = None if department.patients.exists() else build_cohort(department, seed=seed)
    _ensure_quality_targets(department)
    return department, logins, counts
