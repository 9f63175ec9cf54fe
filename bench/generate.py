"""Fill a PostgreSQL database with a realistic synthetic registry of any size.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_bench \\
        .venv/bin/python bench/generate.py --fractures 1000000 --seed 1

Why COPY: one ORM save per row runs at a few thousand rows per second, so a
national-scale registry (millions of rows) would take hours; COPY of generated
CSV runs at hundreds of thousands of rows per second. The rows are generated in
one deterministic pass (``random.Random(seed)``) into per-table CSV spool
files, then each file is COPY-loaded with psycopg2's ``copy_expert``. Ids are
given explicitly so that every foreign key is known while generating, and the
identity sequences are moved past them afterwards, so the services keep
working on the loaded database.

What is realistic about it (the shape the rate queries see):
- 12 departments in a few time zones; about 1.12 procedures per patient and
  1.18 fractures per procedure; procedure starts spread over 2012-2025;
- a contact within 24 h of the end for ~97 % of procedures and a later one for
  ~72 % (some covering only one of several fractures, some missing: the
  data-quality cases the selector must handle);
- complications in each window for about 3 % (per-procedural), 4 % (early)
  and 18 % (delayed) of procedures, ~1.4 per affected procedure-window, most
  concerning all the procedure's fractures; about 300,000 at 1M fractures;
- grades 1-5 with a clinical mix that worsens with the window, each from a
  (term, facts) template graded once by the real grading service, so the
  stored ``auto_grade``/``grade_rationale``/``facts`` are exactly what
  ``complication_record`` would store; ~1 % carry a written grade override;
- delayed onsets partly known only to the day (``onset_date``), per-procedural
  ones mostly "during the procedure".

What is not loaded: the simple_history tables are left empty (they are
write-side audit and no read path of the benchmarks touches them), and the
CIRSE/SIR columns stay empty.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BENCH_ADMIN, BENCH_MEMBER, BENCH_PASSWORD, setup_django  # noqa: E402

# --- the shape of the registry ---------------------------------------------------------

DEPARTMENTS = [
    ("PAR", "Paris — Interventional radiology", "Europe/Paris"),
    ("LYO", "Lyon — Interventional radiology", "Europe/Paris"),
    ("MRS", "Marseille — Imagerie interventionnelle", "Europe/Paris"),
    ("TLS", "Toulouse — Radiologie", "Europe/Paris"),
    ("BDX", "Bordeaux — Radiologie interventionnelle", "Europe/Paris"),
    ("LIL", "Lille — Radiologie", "Europe/Paris"),
    ("STR", "Strasbourg — IR", "Europe/Paris"),
    ("NTE", "Nantes — Imagerie", "Europe/Paris"),
    ("BRU", "Brussels — Interventional radiology", "Europe/Brussels"),
    ("GVA", "Geneva — Radiologie", "Europe/Zurich"),
    ("MTL", "Montreal — Radiologie d'intervention", "America/Toronto"),
    ("PPT", "Papeete — Radiologie", "Pacific/Tahiti"),
]
# Big centres enter many more cases than small ones.
DEPARTMENT_WEIGHTS = [22, 14, 12, 9, 9, 8, 7, 6, 5, 4, 3, 1]

PERIOD_START = datetime(2012, 1, 1, tzinfo=UTC)
PERIOD_END = datetime(2025, 6, 30, tzinfo=UTC)
LOADED_AT = "2025-07-01T00:00:00+00:00"
# COPY's null marker: an empty CSV field stays an empty string (the model's blank default).
NULL = "\\N"

PROCEDURES_PER_PATIENT = ([1, 2, 3], [90, 8, 2])
FRACTURES_PER_PROCEDURE = ([1, 2, 3], [84, 14, 2])  # mean 1.18
FRACTURE_TYPES = (["insufficiency", "pathological", "impending"], [36, 48, 16])
SITES = (
    ["sacrum", "iliac", "acetabulum", "pubic_ramus", "femoral_neck", "proximal_femur", "other"],
    [38, 14, 16, 10, 9, 8, 5],
)
SIDES = (["left", "right", "bilateral", "midline"], [40, 40, 15, 5])
AETIOLOGIES = (
    ["osteoporosis", "metastasis", "myeloma", "radiation_induced", "other", ""],
    [34, 38, 8, 6, 4, 10],
)
GUIDANCE = (["ct", "cbct", "fluoroscopy", "ct_fluoroscopy"], [55, 20, 10, 15])
ANESTHESIA = (["general", "sedation", "local", "regional"], [50, 30, 15, 5])
OPERATORS = ["", "AB", "CD", "EF", "GH", "IJ", "KL", "MN", "OP", "AB, CD", "EF, GH"]

EARLY_CONTACT = 0.97  # the 24-hour check
LATE_CONTACT = 0.72  # a contact more than 24 h after the end
PARTIAL_COVER = 0.05  # a contact / complication that names one of several fractures

# Probability, per procedure, of complications in each window; a second one in
# the same window with SECOND_EVENT.
WINDOW_PROBABILITY = {"per_procedural": 0.03, "early": 0.04, "delayed": 0.18}
SECOND_EVENT = 0.4
# Grade mix per window: per-procedural events are mostly minor, delayed ones
# (infections, hardware failure) more often major.
GRADE_MIX = {
    "per_procedural": [60, 30, 8, 2, 0],
    "early": [45, 35, 15, 4, 1],
    "delayed": [30, 35, 25, 7, 3],
}
DATE_ONLY_DELAYED = 0.10
DURING_PROCEDURE = 0.7
OVERRIDE = 0.01

# (MedDRA code, facts): graded once by the real grading service at start-up.
TEMPLATES: list[tuple[str, dict[str, Any]]] = [
    ("10033371", {"symptoms": "mild"}),  # Pain
    ("10033425", {"symptoms": "mild"}),  # Pain in extremity
    ("10016558", {"temperature_c": 38.5}),  # Fever
    ("10047700", {"intervention": "none"}),  # Vomiting
    ("10017076", {"symptoms": "none"}),  # Fracture
    ("10033371", {"symptoms": "moderate", "adl": "instrumental"}),
    ("10033425", {"symptoms": "moderate"}),
    ("10048038", {"intervention": "oral"}),  # Wound infection
    ("10016558", {"temperature_c": 39.5}),
    ("10002272", {"hemoglobin_g_dl": 9.0}),  # Anemia
    ("10048038", {"intervention": "iv"}),
    ("10061017", {"intervention": "iv"}),  # Bone infection
    ("10061017", {"intervention": "invasive", "hospitalization": True}),
    ("10002272", {"transfusion_units": 2}),
    ("10033371", {"symptoms": "severe", "adl": "self_care"}),
    ("10017076", {"intervention": "invasive"}),
    ("10048038", {"life_threatening": True}),
    ("10040047", {"life_threatening": True}),  # Sepsis
    ("10040047", {"death": True}),
    ("10011914", {"death": True}),  # Death NOS
    ("10028596", {"death": True}),  # Myocardial infarction
]
OUTCOMES = (["resolved", "resolved_with_sequelae", "ongoing", ""], [70, 8, 12, 10])
RELATEDNESS = (["definite", "probable", "possible", "unlikely", ""], [30, 30, 25, 5, 10])

TABLES = [
    ("registry_department", ["id", "code", "name", "time_zone", "default_guidance"]),
    (
        "registry_patient",
        [
            "id",
            "department_id",
            "registry_id",
            "sex",
            "birth_date",
            "hospital_number_hash",
            "created_at",
            "updated_at",
        ],
    ),
    (
        "registry_procedure",
        [
            "id",
            "patient_id",
            "started_at",
            "ended_at",
            "guidance",
            "anesthesia",
            "operator",
            "created_at",
            "updated_at",
            "started_on",
            "follow_up_status",
        ],
    ),
    (
        "registry_fracture",
        ["id", "procedure_id", "type", "site", "side", "aetiology", "screws", "cement_augmented"],
    ),
    ("registry_followup", ["id", "procedure_id", "contact_at", "kind", "notes", "created_at"]),
    ("registry_followup_fractures", ["followup_id", "fracture_id"]),
    (
        "complications_complicationevent",
        [
            "id",
            "procedure_id",
            "term_id",
            "specify",
            "onset_at",
            "onset_date",
            "during_procedure",
            "facts",
            "auto_grade",
            "grade_override",
            "override_reason",
            "grade_rationale",
            "window",
            "hours_after_end",
            "outcome",
            "relatedness",
            "description",
            "outcome_facts",
            "cirse_grade",
            "sir_class",
            "created_at",
            "updated_at",
        ],
    ),
    ("complications_complicationevent_fractures", ["complicationevent_id", "fracture_id"]),
]
# Emptied before loading (and the history tables, left empty afterwards).
CLINICAL_TABLES = [name for name, _ in TABLES]


@dataclass(frozen=True)
class Template:
    term: str
    facts_json: str
    grade: int
    rationale: str
    grades_available: tuple[int, ...]


@dataclass
class Counters:
    rows: dict[str, int] = field(default_factory=lambda: {name: 0 for name, _ in TABLES})


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _pick(rng: random.Random, choices: tuple[list[Any], list[int]]) -> Any:
    return rng.choices(choices[0], choices[1])[0]


def grade_templates() -> dict[str, dict[int, list[Template]]]:
    """Each template graded by the service's own derivation, per patient sex.

    Sex changes the haemoglobin lower limit of normal, so a template is graded
    for both; the rationale is built exactly as ``complication_derive`` does.
    """
    from complications import ctcae
    from complications.models import CtcaeTerm
    from complications.services import core_term

    graded: dict[str, dict[int, list[Template]]] = {"female": {}, "male": {}}
    for sex in graded:
        for code, facts in TEMPLATES:
            term = core_term(CtcaeTerm.objects.get(code=code))
            result = ctcae.grade(term, ctcae.parse_facts(dict(facts), term), sex=sex)
            rationale = result.rationale + "".join(f" Note: {w}" for w in result.warnings)
            template = Template(
                code,
                json.dumps(facts, sort_keys=True),
                result.grade,
                rationale,
                term.grades_available,
            )
            graded[sex].setdefault(result.grade, []).append(template)
    for sex, by_grade in graded.items():
        missing = set(range(1, 6)) - set(by_grade)
        if missing:
            raise SystemExit(f"no template grades to {sorted(missing)} for {sex}")
    return graded


class Writers:
    """One CSV spool file per table (COPY reads them afterwards)."""

    def __init__(self, directory: Path) -> None:
        self.files: dict[str, IO[str]] = {}
        self.writers: dict[str, Any] = {}
        for name, _ in TABLES:
            handle = open(directory / f"{name}.csv", "w", newline="", encoding="utf-8")  # noqa: SIM115
            self.files[name] = handle
            self.writers[name] = csv.writer(handle)

    def close(self) -> None:
        for handle in self.files.values():
            handle.close()


def generate(n_fractures: int, seed: int, writers: Writers, counters: Counters) -> None:
    """Write every table's rows; stops exactly at ``n_fractures`` fractures."""
    rng = random.Random(seed)
    templates = grade_templates()
    w = writers.writers
    rows = counters.rows
    for dep_id, (code, name, zone) in enumerate(DEPARTMENTS, start=1):
        w["registry_department"].writerow([dep_id, code, name, zone, "ct"])
    rows["registry_department"] = len(DEPARTMENTS)
    zones = [ZoneInfo(zone) for _, _, zone in DEPARTMENTS]
    department_ids = list(range(1, len(DEPARTMENTS) + 1))
    span = (PERIOD_END - PERIOD_START).total_seconds()

    patient_id = procedure_id = fracture_id = followup_id = event_id = 0
    while fracture_id < n_fractures:
        patient_id += 1
        department = rng.choices(department_ids, DEPARTMENT_WEIGHTS)[0]
        sex = "female" if rng.random() < 0.55 else "male"
        n_procedures = _pick(rng, PROCEDURES_PER_PATIENT)
        first_start = PERIOD_START + timedelta(seconds=rng.random() * span * 0.97)
        age_days = int(rng.triangular(30, 95, 72) * 365.25)
        birth = (first_start - timedelta(days=age_days)).date()
        w["registry_patient"].writerow(
            [
                patient_id,
                department,
                f"{DEPARTMENTS[department - 1][0]}-{patient_id:08d}",
                sex,
                birth.isoformat(),
                "",
                LOADED_AT,
                LOADED_AT,
            ]
        )
        rows["registry_patient"] += 1
        start = first_start
        for _ in range(n_procedures):
            if fracture_id >= n_fractures:
                break
            procedure_id += 1
            # Procedures start in working hours, local time.
            local = start.astimezone(zones[department - 1]).replace(
                hour=rng.randint(8, 17), minute=rng.choice((0, 15, 30, 45)), second=0, microsecond=0
            )
            started = local.astimezone(UTC)
            ended = started + timedelta(minutes=rng.randint(30, 180))
            w["registry_procedure"].writerow(
                [
                    procedure_id,
                    patient_id,
                    _iso(started),
                    _iso(ended),
                    _pick(rng, GUIDANCE),
                    _pick(rng, ANESTHESIA),
                    rng.choice(OPERATORS),
                    LOADED_AT,
                    LOADED_AT,
                    local.date().isoformat(),  # registry.models.local_date
                    "open",  # no database default: the model's default, written out
                ]
            )
            rows["registry_procedure"] += 1
            n = min(_pick(rng, FRACTURES_PER_PROCEDURE), n_fractures - fracture_id)
            fractures = list(range(fracture_id + 1, fracture_id + n + 1))
            fracture_id += n
            for fid in fractures:
                w["registry_fracture"].writerow(
                    [
                        fid,
                        procedure_id,
                        _pick(rng, FRACTURE_TYPES),
                        _pick(rng, SITES),
                        _pick(rng, SIDES),
                        _pick(rng, AETIOLOGIES),
                        rng.choice((1, 1, 2, 2, 2, 3, 4)),
                        "t" if rng.random() < 0.2 else "f",
                    ]
                )
            rows["registry_fracture"] += n

            contacts: list[datetime] = []
            if rng.random() < EARLY_CONTACT:
                contacts.append(ended + timedelta(hours=rng.uniform(1, 23.5)))
            if rng.random() < LATE_CONTACT:
                contacts.append(ended + timedelta(hours=rng.uniform(25, 24 * 180)))
                if rng.random() < 0.3:
                    contacts.append(ended + timedelta(hours=rng.uniform(24 * 30, 24 * 365)))
            for contact in contacts:
                followup_id += 1
                w["registry_followup"].writerow(
                    [
                        followup_id,
                        procedure_id,
                        _iso(contact),
                        rng.choice(("clinical", "imaging", "phone")),
                        "",
                        LOADED_AT,
                    ]
                )
                rows["registry_followup"] += 1
                covered = fractures
                if n > 1 and rng.random() < PARTIAL_COVER:
                    covered = [rng.choice(fractures)]
                for fid in covered:
                    w["registry_followup_fractures"].writerow([followup_id, fid])
                rows["registry_followup_fractures"] += len(covered)

            for window, probability in WINDOW_PROBABILITY.items():
                if rng.random() >= probability:
                    continue
                for _ in range(2 if rng.random() < SECOND_EVENT else 1):
                    event_id += 1
                    _event(
                        rng,
                        w,
                        rows,
                        templates[sex],
                        window,
                        event_id,
                        procedure_id,
                        started,
                        ended,
                        zones[department - 1],
                        fractures,
                    )
            start = start + timedelta(days=rng.uniform(20, 400))
            if start > PERIOD_END:
                break


def _event(
    rng: random.Random,
    w: dict[str, Any],
    rows: dict[str, int],
    templates: dict[int, list[Template]],
    window: str,
    event_id: int,
    procedure_id: int,
    started: datetime,
    ended: datetime,
    zone: ZoneInfo,
    fractures: list[int],
) -> None:
    """One complication row and its fracture links, with derived fields as the service sets them."""
    grade = rng.choices((1, 2, 3, 4, 5), GRADE_MIX[window])[0]
    template = rng.choice(templates[grade])
    onset_at = onset_date = hours = NULL
    during = "f"
    if window == "per_procedural":
        if rng.random() < DURING_PROCEDURE:
            during = "t"
        else:
            onset = started + (ended - started) * rng.random()
            onset_at = _iso(onset)
            hours = repr(round((onset - ended).total_seconds() / 3600, 2))
    elif window == "early":
        onset = ended + timedelta(hours=rng.uniform(0.1, 23.9))
        onset_at = _iso(onset)
        hours = repr(round((onset - ended).total_seconds() / 3600, 2))
    elif rng.random() < DATE_ONLY_DELAYED:
        # A whole local day at least two days after the end lies in the delayed window.
        onset_date = (
            ended.astimezone(zone).date() + timedelta(days=rng.randint(2, 90))
        ).isoformat()
    else:
        onset = ended + timedelta(hours=rng.uniform(24.5, 24 * 120))
        onset_at = _iso(onset)
        hours = repr(round((onset - ended).total_seconds() / 3600, 2))
    override, reason = NULL, ""
    if rng.random() < OVERRIDE:
        alternatives = [g for g in template.grades_available if g != template.grade]
        if alternatives:
            override = str(rng.choice(alternatives))
            reason = "Clinical judgement at the M&M meeting (synthetic)."
    # Outcome "death" goes with grade 5 and only with it (a database constraint).
    effective = int(override) if override != NULL else template.grade
    outcome = "death" if effective == 5 else _pick(rng, OUTCOMES)
    w["complications_complicationevent"].writerow(
        [
            event_id,
            procedure_id,
            template.term,
            "",
            onset_at,
            onset_date,
            during,
            template.facts_json,
            template.grade,
            override,
            reason,
            template.rationale,
            window,
            hours,
            outcome,
            _pick(rng, RELATEDNESS),
            "",
            "{}",
            NULL,
            "",
            LOADED_AT,
            LOADED_AT,
        ]
    )
    rows["complications_complicationevent"] += 1
    concerned = fractures
    if len(fractures) > 1 and rng.random() < PARTIAL_COVER * 3:
        concerned = [rng.choice(fractures)]
    for fid in concerned:
        w["complications_complicationevent_fractures"].writerow([event_id, fid])
    rows["complications_complicationevent_fractures"] += len(concerned)


def truncate(cursor: Any) -> None:
    """Empty the clinical tables and their history; the catalogue and users stay."""
    cursor.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE %s",
        ["%historical%"],
    )
    history = [row[0] for row in cursor.fetchall()]
    names = ", ".join([*CLINICAL_TABLES, *history, "complications_exportjob"])
    # The audit trail refuses to be rewritten (registry/0006_history_immutable
    # triggers); a synthetic registry's is emptied anyway, with triggers off
    # for this one statement only.
    cursor.execute("SET LOCAL session_replication_role = replica")
    cursor.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    cursor.execute("SET LOCAL session_replication_role = origin")


def copy_tables(cursor: Any, directory: Path, counters: Counters) -> dict[str, dict[str, float]]:
    """COPY every spool file into its table; returns seconds and rows/s per table."""
    stats: dict[str, dict[str, float]] = {}
    for name, columns in TABLES:
        cols = ", ".join(f'"{c}"' for c in columns)
        start = time.perf_counter()
        with open(directory / f"{name}.csv", encoding="utf-8") as handle:
            cursor.copy_expert(
                f"COPY {name} ({cols}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", handle
            )
        seconds = time.perf_counter() - start
        n = counters.rows[name]
        stats[name] = {
            "rows": n,
            "seconds": round(seconds, 2),
            "rows_per_s": round(n / seconds) if seconds else 0,
        }
        print(
            f"  COPY {name:<45} {n:>10,} rows {seconds:7.1f} s "
            f"{stats[name]['rows_per_s']:>10,} rows/s",
            flush=True,
        )
    return stats


def reset_sequences(cursor: Any) -> None:
    """Move each identity past the loaded ids, so services can insert afterwards."""
    for name, _ in TABLES:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
            f"GREATEST((SELECT max(id) FROM {name}), 1))"
        )


def bench_users() -> None:
    """A superuser (sees everything) and a department head of the biggest department."""
    from django.contrib.auth.models import Group, User

    from registry import roles
    from registry.models import Department

    User.objects.filter(username__in=[BENCH_ADMIN, BENCH_MEMBER]).delete()
    User.objects.create_superuser(BENCH_ADMIN, "bench-admin@example.org", BENCH_PASSWORD)
    member = User.objects.create_user(BENCH_MEMBER, "bench-member@example.org", BENCH_PASSWORD)
    member.groups.add(Group.objects.get(name=roles.DEPARTMENT_HEAD))
    member.groups.add(Group.objects.get(name=roles.RADIOLOGIST))
    Department.objects.get(code=DEPARTMENTS[0][0]).members.add(member)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fractures", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--spool", default=None, help="directory for the CSV spool files (default: a temp dir)"
    )
    args = parser.parse_args(argv)

    setup_django()
    from django.core.management import call_command
    from django.db import connection, transaction

    overall = time.perf_counter()
    call_command("migrate", verbosity=0)
    # The release's curated catalogue (the migrations hold the one frozen in them); the
    # summary is rebuilt below, after the load.
    call_command("ctcae_import", no_regrade=True, stdout=io.StringIO())
    counters = Counters()
    with tempfile.TemporaryDirectory(dir=args.spool) as tmp:
        directory = Path(tmp)
        start = time.perf_counter()
        writers = Writers(directory)
        try:
            generate(args.fractures, args.seed, writers, counters)
        finally:
            writers.close()
        generated = time.perf_counter() - start
        total_rows = sum(counters.rows.values())
        print(
            f"generated {total_rows:,} rows in {generated:.1f} s "
            f"({total_rows / generated:,.0f} rows/s)",
            flush=True,
        )
        start = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            truncate(cursor)
            copy = copy_tables(cursor.cursor, directory, counters)
            reset_sequences(cursor)
        loaded = time.perf_counter() - start
    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    analyzed = time.perf_counter() - start
    # The rows went in by COPY, past the services: compute the outcome summary
    # the rates read, set-based, as ``manage.py outcomes_rebuild`` does.
    from complications.outcomes.refresh import outcomes_rebuild

    start = time.perf_counter()
    summary_rows = outcomes_rebuild()
    summarised = time.perf_counter() - start
    bench_users()
    total = time.perf_counter() - overall
    print(
        f"loaded in {loaded:.1f} s ({total_rows / loaded:,.0f} rows/s), ANALYZE {analyzed:.1f} s, "
        f"outcome summary {summarised:.1f} s, total {total:.1f} s"
    )
    summary = {
        "fractures": args.fractures,
        "seed": args.seed,
        "rows": counters.rows,
        "copy": copy,
        "generate_s": round(generated, 1),
        "load_s": round(loaded, 1),
        "analyze_s": round(analyzed, 1),
        "summary_s": round(summarised, 1),
        "summary_rows": summary_rows,
        "total_s": round(total, 1),
        "database": connection.settings_dict["NAME"],
    }
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry.settings")
    main()
