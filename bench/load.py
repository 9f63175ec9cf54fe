"""Load test: concurrent clients of mixed reads and writes against gunicorn on PostgreSQL.

    .venv/bin/python bench/load.py [--clients 50] [--seconds 60]

What it does, all on this machine and on loopback only (127.0.0.1):

1. creates the PostgreSQL database ``registry_load`` if it is missing (drops
   nothing, unless ``--fresh``: then that database alone), migrates it and
   seeds the demo department, users and cohort (``manage.py demo
   --allow-production``);
2. starts gunicorn (production settings: DEBUG=false, Redis cache in db 13,
   no broker so tasks run in-process) on a free port, waits for ``/health/``;
3. runs N client threads for S seconds, each with its own ``requests`` session
   and API token (created through the ORM, so no password is ever checked and
   django-axes is not involved; one real ``POST /api/v1/auth/token/`` per demo
   user checks the endpoint). Four clients in five are radiologists doing the
   weighted mix of reads and writes below; the fifth is the department head
   (read-only role) reading lists and statistics;
4. records every acknowledged write (a 201 or 200 with its id and the values
   sent or returned) and, after the clients stopped, checks each one against
   the database through the ORM; PATCHes with ``If-Match`` are checked to
   form one chain per complication (two acknowledged PATCHes from the same
   version would be a lost update) whose last link is what is stored;
5. compares ``/api/v1/stats/rates/`` (three units) and ``/stats/cohort/`` with
   the selectors called directly after clearing the cache;
6. stops gunicorn (also on Ctrl-C or an exception).

A 412 on a PATCH is the expected outcome of two clients editing the same
complication and is counted as a conflict, not an error. Exit status 1 on
any 5xx, connection error, unexpected 4xx, missing or altered write, lost
update or statistics mismatch. gunicorn's output (tracebacks of any 500) is
kept in the log file printed at the end.

Bounds: at most 200 clients and 300 seconds; the server listens on
127.0.0.1 only; every HTTP call has a 30 s timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
HOST = "127.0.0.1"
# LOAD_DATABASE: another name, so that two people on one machine do not share a database.
DB_NAME = os.environ.get("LOAD_DATABASE", "registry_load")
if not DB_NAME.replace("_", "").isalnum():
    sys.exit("LOAD_DATABASE must be letters, digits and underscores.")
PG = "postgres://postgres@127.0.0.1:5432"
MAX_CLIENTS = 200
MAX_SECONDS = 300
TIMEOUT = 30

HEMATOMA, PAIN, PAIN_EXTREMITY = "10019428", "10033371", "10033425"
# (term, facts, expected grade): facts known to grade for the term (complications/demo.py).
COMPLICATIONS = [
    (HEMATOMA, {"symptoms": "mild", "intervention": "none"}, 1),
    (HEMATOMA, {"transfusion_units": 2, "hospitalization": True}, 3),
    (PAIN, {"symptoms": "moderate"}, 2),
    (PAIN_EXTREMITY, {"symptoms": "moderate", "adl": "instrumental"}, 2),
]
# Facts a PATCH may switch to, per term (each grades).
PATCH_FACTS = {
    HEMATOMA: [
        {"symptoms": "mild", "intervention": "none"},
        {"transfusion_units": 2, "hospitalization": True},
    ],
    PAIN: [{"symptoms": "mild"}, {"symptoms": "moderate"}],
    PAIN_EXTREMITY: [{"symptoms": "mild"}, {"symptoms": "moderate", "adl": "instrumental"}],
}

# Radiologists' mix (relative weights); the head runs the read-only part.
MIX = {
    "list_patients": 10,
    "get_patient": 8,
    "list_procedures": 10,
    "list_complications": 10,
    "get_complication": 6,
    "stats_rates": 8,
    "stats_cohort": 4,
    "create_case": 8,
    "create_follow_up": 8,
    "create_complication": 10,
    "patch_complication": 14,
}
READ_ONLY = {"list_patients", "get_patient", "list_procedures", "list_complications"}
READ_ONLY |= {"get_complication", "stats_rates", "stats_cohort"}
HOT_SET = 6  # PATCHes aim at the last few complications created, to make them collide


def env_for_server(database_url: str, redis_url: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DEBUG="false",
        SECRET_KEY="load-test-only-secret-key-not-used-in-production-0123456789",
        SECURE_SSL_REDIRECT="false",
        SECURE_HSTS_SECONDS="0",
        ALLOWED_HOSTS=HOST,
        DJANGO_SETTINGS_MODULE="registry.settings",
        LOG_LEVEL="WARNING",
    )
    return env


def ensure_database(env: dict[str, str], *, fresh: bool) -> None:
    """Create registry_load if missing, migrate, seed the demo.

    Only ``--fresh`` drops anything, and only this script's own ``registry_load``.
    """
    if fresh:
        subprocess.run(
            ["psql", PG + "/postgres", "-c", f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)"],
            check=True,
        )
    exists = subprocess.run(
        ["psql", PG + "/postgres", "-Atc", f"SELECT 1 FROM pg_database WHERE datname='{DB_NAME}'"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not exists:
        subprocess.run(["psql", PG + "/postgres", "-c", f"CREATE DATABASE {DB_NAME}"], check=True)
    # --skip-checks: the demo accounts' published passwords fail the production checks until
    # main() replaces them, which a second run would otherwise stop at.
    for args in (
        ["migrate", "--noinput", "-v", "0", "--skip-checks"],
        ["demo", "--allow-production", "--skip-checks"],
    ):
        subprocess.run(
            [str(PYTHON), "manage.py", *args],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_gunicorn(
    env: dict[str, str], port: int, workers: int, threads: int, log: Path
) -> subprocess.Popen:
    out = log.open("ab")
    return subprocess.Popen(
        [
            str(GUNICORN),
            "registry.wsgi:application",
            "--bind",
            f"{HOST}:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--timeout",
            "60",
            "--graceful-timeout",
            "10",
            "--no-control-socket",  # the default path is shared by every gunicorn of this user
        ],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped as one, by its id
    )


def stop_gunicorn(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of every live process of a process group (gunicorn's), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            rest = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(rest[2]) == pgid:
            total += int(rest[11]) + int(rest[12])
    return total / ticks


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def wait_healthy(base: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"gunicorn exited ({proc.returncode}); see {log}")
        try:
            if requests.get(base + "/health/", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    sys.exit(f"gunicorn not healthy after 60 s; see {log}")


# --- shared state of the run ----------------------------------------------------------------


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, dict[int, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    errors: list[dict[str, Any]] = field(default_factory=list)  # 5xx, connection, unexpected 4xx
    conflicts: int = 0
    writes: list[dict[str, Any]] = field(default_factory=list)  # acknowledged creates
    patches: list[dict[str, Any]] = field(default_factory=list)  # acknowledged PATCHes
    procedures: list[dict[str, Any]] = field(default_factory=list)  # pool for follow-ups etc.
    patients: list[int] = field(default_factory=list)
    complications: list[int] = field(default_factory=list)
    hot: list[dict[str, Any]] = field(default_factory=list)  # recent complications (term, id)


class Client:
    def __init__(
        self, index: int, base: str, token: str, role: str, stats: Stats, run: str, end: float
    ):
        self.index, self.base, self.role, self.stats, self.run, self.end = (
            index,
            base,
            role,
            stats,
            run,
            end,
        )
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"
        self.rng = random.Random(index * 7919 + 1)
        self.seq = 0
        self.latencies: list[float] = []  # this client's, to see how evenly it is served
        kinds = [k for k in MIX if role == "radiologist" or k in READ_ONLY]
        self.kinds, self.weights = kinds, [MIX[k] for k in kinds]

    # One HTTP call, timed and classified under `kind`.
    def call(
        self, kind: str, method: str, path: str, *, expect: tuple[int, ...], **kwargs: Any
    ) -> requests.Response | None:
        url = self.base + path
        assert url.startswith(f"http://{HOST}:"), url  # loopback only
        start = time.perf_counter()
        try:
            response = self.session.request(method, url, timeout=TIMEOUT, **kwargs)
        except requests.RequestException as exc:
            elapsed = (time.perf_counter() - start) * 1000
            with self.stats.lock:
                self.stats.latencies[kind].append(elapsed)
                self.stats.statuses[kind][0] += 1
                self.stats.errors.append(
                    {
                        "kind": kind,
                        "method": method,
                        "path": path,
                        "status": "connection",
                        "detail": repr(exc)[:300],
                    }
                )
            self.latencies.append(elapsed)
            return None
        elapsed = (time.perf_counter() - start) * 1000
        with self.stats.lock:
            self.stats.latencies[kind].append(elapsed)
            self.latencies.append(elapsed)
            self.stats.statuses[kind][response.status_code] += 1
            if response.status_code == 412 and kind == "patch_complication":
                self.stats.conflicts += 1
            elif response.status_code not in expect:
                self.stats.errors.append(
                    {
                        "kind": kind,
                        "method": method,
                        "path": path,
                        "status": response.status_code,
                        "detail": response.text[:300],
                        "body": kwargs.get("json"),
                    }
                )
        return response if response.status_code in expect else None

    def loop(self) -> None:
        while time.monotonic() < self.end:
            kind = self.rng.choices(self.kinds, self.weights)[0]
            getattr(self, kind)()

    def pick(self, items: list[Any]) -> Any:
        with self.stats.lock:
            return self.rng.choice(items) if items else None

    # --- reads -------------------------------------------------------------------------------

    def list_patients(self) -> None:
        params = {"page_size": 50, "ordering": self.rng.choice(["registry_id", "-created_at"])}
        self.call("list_patients", "GET", "/api/v1/patients/", expect=(200,), params=params)

    def get_patient(self) -> None:
        pk = self.pick(self.stats.patients)
        self.call("get_patient", "GET", f"/api/v1/patients/{pk}/", expect=(200,))

    def list_procedures(self) -> None:
        params: dict[str, Any] = {"page_size": 50}
        if self.rng.random() < 0.5:
            params["ordering"] = "-started_at"
        else:
            params["guidance"] = self.rng.choice(["ct", "cbct", "fluoroscopy", "ct_fluoroscopy"])
        self.call("list_procedures", "GET", "/api/v1/procedures/", expect=(200,), params=params)

    def list_complications(self) -> None:
        params: dict[str, Any] = {"page_size": 50}
        choice = self.rng.random()
        if choice < 0.3:
            params["window"] = self.rng.choice(["per_procedural", "early", "delayed"])
        elif choice < 0.5:
            params["severity"] = self.rng.choice(["minor", "major"])
        else:
            params["ordering"] = "-created_at"
        path = "/api/v1/complications/"
        self.call("list_complications", "GET", path, expect=(200,), params=params)

    def get_complication(self) -> None:
        pk = self.pick(self.stats.complications)
        self.call("get_complication", "GET", f"/api/v1/complications/{pk}/", expect=(200,))

    def stats_rates(self) -> None:
        params = {"unit": self.rng.choice(["fracture", "fracture", "procedure", "patient"])}
        self.call("stats_rates", "GET", "/api/v1/stats/rates/", expect=(200,), params=params)

    def stats_cohort(self) -> None:
        self.call("stats_cohort", "GET", "/api/v1/stats/cohort/", expect=(200,))

    # --- writes ------------------------------------------------------------------------------

    def _ack(self, kind: str, pk: int, values: dict[str, Any]) -> None:
        with self.stats.lock:
            self.stats.writes.append({"kind": kind, "id": pk, "values": values})

    def create_case(self) -> None:
        """A new patient, one procedure, one or two fractures (as the case form does)."""
        self.seq += 1
        rng = self.rng
        patient = {
            "registry_id": f"LOAD-{self.run}-{self.index}-{self.seq}",
            "sex": rng.choice(["female", "male"]),
            "birth_date": (date(1935, 1, 1) + timedelta(days=rng.randrange(16000))).isoformat(),
        }
        response = self.call(
            "create_case", "POST", "/api/v1/patients/", expect=(201,), json=patient
        )
        if response is None:
            return
        patient_id = response.json()["id"]
        self._ack("patient", patient_id, patient)
        start = datetime(2024, 1, 1, 8, 0) + timedelta(minutes=rng.randrange(900_000))
        started_at = start.isoformat() + "+01:00"
        ended_at = (start + timedelta(minutes=rng.randrange(20, 180))).isoformat() + "+01:00"
        procedure = {
            "patient": patient_id,
            "started_at": started_at,
            "ended_at": ended_at,
            "guidance": rng.choice(["ct", "cbct", "fluoroscopy", "ct_fluoroscopy"]),
            "anesthesia": rng.choice(["general", "sedation", "local", "regional"]),
            "operator": f"load client {self.index}",
        }
        response = self.call(
            "create_case", "POST", "/api/v1/procedures/", expect=(201,), json=procedure
        )
        if response is None:
            return
        procedure_id = response.json()["id"]
        self._ack("procedure", procedure_id, procedure)
        fractures = []
        for _ in range(rng.choice([1, 1, 1, 2])):
            fracture = {
                "procedure": procedure_id,
                "type": rng.choice(["insufficiency", "pathological", "impending"]),
                "site": rng.choice(["sacrum", "iliac", "acetabulum", "pubic_ramus"]),
                "side": rng.choice(["left", "right", "bilateral", "midline"]),
                "screws": rng.randint(1, 4),
                "cement_augmented": rng.random() < 0.3,
            }
            response = self.call(
                "create_case", "POST", "/api/v1/fractures/", expect=(201,), json=fracture
            )
            if response is None:
                return
            fractures.append(response.json()["id"])
            self._ack("fracture", fractures[-1], fracture)
        with self.stats.lock:
            self.stats.patients.append(patient_id)
            self.stats.procedures.append(
                {"id": procedure_id, "ended_at": ended_at, "fractures": fractures}
            )

    def create_follow_up(self) -> None:
        procedure = self.pick(self.stats.procedures)
        ended = datetime.fromisoformat(procedure["ended_at"])
        contact = ended + timedelta(hours=self.rng.choice([2, 12, 30, 24 * 7, 24 * 40]))
        body: dict[str, Any] = {
            "procedure": procedure["id"],
            "contact_at": contact.isoformat(),
            "kind": self.rng.choice(["clinical", "imaging", "phone"]),
        }
        if len(procedure["fractures"]) > 1 and self.rng.random() < 0.5:
            body["fractures"] = procedure["fractures"][:1]
        response = self.call(
            "create_follow_up", "POST", "/api/v1/follow-ups/", expect=(201,), json=body
        )
        if response is not None:
            self._ack("follow_up", response.json()["id"], body)

    def create_complication(self) -> None:
        procedure = self.pick(self.stats.procedures)
        term, facts, grade = self.rng.choice(COMPLICATIONS)
        self.seq += 1
        body: dict[str, Any] = {
            "procedure": procedure["id"],
            "term": term,
            "facts": facts,
            "description": f"load {self.run} c{self.index} #{self.seq}",
            "outcome": "resolved",
        }
        if self.rng.random() < 0.3:
            body["during_procedure"] = True
        else:
            ended = datetime.fromisoformat(procedure["ended_at"])
            onset = ended + timedelta(hours=self.rng.choice([1, 6, 20, 48, 24 * 10]))
            body["onset_at"] = onset.isoformat()
        response = self.call(
            "create_complication", "POST", "/api/v1/complications/", expect=(201,), json=body
        )
        if response is None:
            return
        data = response.json()
        if data.get("grade") != grade:
            with self.stats.lock:
                self.stats.errors.append(
                    {"kind": "create_complication", "status": "wrong grade",
                     "detail": f"expected {grade}, got {data.get('grade')}", "body": body}
                )  # fmt: skip
        self._ack(
            "complication",
            data["id"],
            {**body, "grade": data["grade"], "etag": response.headers.get("ETag")},
        )
        with self.stats.lock:
            self.stats.complications.append(data["id"])
            self.stats.hot.append({"id": data["id"], "term": term})
            del self.stats.hot[:-HOT_SET]

    def patch_complication(self) -> None:
        """Read a recent complication, then PATCH it with If-Match (412 when someone was first)."""
        target = self.pick(self.stats.hot)
        if target is None:
            return self.list_complications()
        path = f"/api/v1/complications/{target['id']}/"
        response = self.call("get_complication", "GET", path, expect=(200,))
        if response is None:
            return None
        etag = response.headers["ETag"]
        self.seq += 1
        body = {
            "description": f"patched {self.run} c{self.index} #{self.seq}",
            "outcome": self.rng.choice(["resolved", "ongoing", "resolved_with_sequelae"]),
            "facts": self.rng.choice(PATCH_FACTS[target["term"]]),
        }
        response = self.call(
            "patch_complication",
            "PATCH",
            path,
            expect=(200,),
            json=body,
            headers={"If-Match": etag},
        )
        if response is not None:
            with self.stats.lock:
                self.stats.patches.append(
                    {
                        "id": target["id"],
                        "if_match": etag,
                        "etag": response.headers.get("ETag"),
                        "values": body,
                        "grade": response.json()["grade"],
                    }
                )
        return None


# --- verification ---------------------------------------------------------------------------


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value)


def verify_writes(stats: Stats) -> tuple[int, list[str]]:
    """Every acknowledged create and PATCH against the database; returns (verified, problems)."""
    from complications.models import ComplicationEvent
    from registry.models import FollowUp, Fracture, Patient, Procedure

    problems: list[str] = []
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for write in stats.writes:
        by_kind[write["kind"]].append(write)
    verified = 0

    def check(kind: str, pk: int, pairs: list[tuple[str, Any, Any]]) -> None:
        nonlocal verified
        wrong = [
            f"{name}: stored {got!r}, acknowledged {want!r}"
            for name, got, want in pairs
            if got != want
        ]
        if wrong:
            problems.append(f"{kind} {pk} differs: " + "; ".join(wrong))
        else:
            verified += 1

    def rows(model: Any, kind: str, **related: Any) -> dict[int, Any]:
        ids = [w["id"] for w in by_kind[kind]]
        found = model.objects.filter(pk__in=ids)
        if related:
            found = found.prefetch_related(*related["prefetch"])
        found = {row.pk: row for row in found}
        for pk in ids:
            if pk not in found:
                problems.append(f"{kind} {pk} acknowledged but missing")
        return found

    patients = rows(Patient, "patient")
    for w in by_kind["patient"]:
        if (row := patients.get(w["id"])) is not None:
            v = w["values"]
            check(
                "patient",
                w["id"],
                [
                    ("registry_id", row.registry_id, v["registry_id"]),
                    ("sex", row.sex, v["sex"]),
                    ("birth_date", row.birth_date.isoformat(), v["birth_date"]),
                ],
            )
    procedures = rows(Procedure, "procedure")
    for w in by_kind["procedure"]:
        if (row := procedures.get(w["id"])) is not None:
            v = w["values"]
            check(
                "procedure",
                w["id"],
                [
                    ("patient", row.patient_id, v["patient"]),
                    ("started_at", row.started_at, _dt(v["started_at"])),
                    ("ended_at", row.ended_at, _dt(v["ended_at"])),
                    ("guidance", row.guidance, v["guidance"]),
                    ("anesthesia", row.anesthesia, v["anesthesia"]),
                    ("operator", row.operator, v["operator"]),
                ],
            )
    fractures = rows(Fracture, "fracture")
    for w in by_kind["fracture"]:
        if (row := fractures.get(w["id"])) is not None:
            v = w["values"]
            check(
                "fracture",
                w["id"],
                [(name, getattr(row, name), v[name]) for name in ("type", "site", "side", "screws")]
                + [
                    ("procedure", row.procedure_id, v["procedure"]),
                    ("cement_augmented", row.cement_augmented, v["cement_augmented"]),
                ],
            )
    follow_ups = rows(FollowUp, "follow_up", prefetch=["fractures"])
    for w in by_kind["follow_up"]:
        if (row := follow_ups.get(w["id"])) is not None:
            v = w["values"]
            pairs = [
                ("procedure", row.procedure_id, v["procedure"]),
                ("contact_at", row.contact_at, _dt(v["contact_at"])),
                ("kind", row.kind, v["kind"]),
            ]
            if "fractures" in v:
                pairs.append(
                    ("fractures", sorted(f.pk for f in row.fractures.all()), v["fractures"])
                )
            check("follow_up", w["id"], pairs)

    # PATCH chains: per complication, each acknowledged PATCH must start from the version the
    # previous one produced; the stored row is the last link.
    chains: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for patch in stats.patches:
        chains[patch["id"]].append(patch)
    complications = rows(ComplicationEvent, "complication")
    for w in by_kind["complication"]:
        row = complications.get(w["id"])
        if row is None:
            continue
        v = dict(w["values"])
        links = chains.get(w["id"], [])
        consumed: dict[str, int] = defaultdict(int)
        for link in links:
            consumed[link["if_match"]] += 1
        forks = [tag for tag, n in consumed.items() if n > 1]
        if forks:
            problems.append(
                f"complication {w['id']}: {len(forks)} version(s) acknowledged by two PATCHes "
                "(lost update)"
            )
        expect_grade = v["grade"]
        if links:
            produced = {link["etag"] for link in links}
            ends = [link for link in links if link["etag"] not in consumed]
            starts = [link for link in links if link["if_match"] not in produced]
            if len(ends) != 1 or len(starts) != 1 or starts[0]["if_match"] != v["etag"]:
                problems.append(
                    f"complication {w['id']}: its {len(links)} acknowledged PATCHes do not form "
                    "one chain from the created version"
                )
            last = ends[-1] if ends else links[-1]
            v.update(last["values"])
            expect_grade = last["grade"]
        pairs = [
            ("procedure", row.procedure_id, v["procedure"]),
            ("term", row.term_id, v["term"]),
            ("facts", dict(row.facts or {}), v["facts"]),
            ("description", row.description, v["description"]),
            ("outcome", row.outcome, v["outcome"]),
            ("grade", row.grade, expect_grade),
            ("during_procedure", row.during_procedure, bool(v.get("during_procedure"))),
        ]
        if "onset_at" in v:
            pairs.append(("onset_at", row.onset_at, _dt(v["onset_at"])))
        check("complication", w["id"], pairs)
    return verified, problems


def verify_stats(base: str, token: str) -> list[str]:
    """The endpoints (as the head) against the selectors computed fresh after a cache clear."""
    from django.contrib.auth.models import User
    from django.core.cache import cache
    from django.core.serializers.json import DjangoJSONEncoder

    from complications.stats.cohort import cohort
    from complications.stats.rates import rates

    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    served = {
        unit: session.get(f"{base}/api/v1/stats/rates/?unit={unit}", timeout=TIMEOUT).json()
        for unit in ("fracture", "procedure", "patient")
    }
    served["cohort"] = session.get(f"{base}/api/v1/stats/cohort/", timeout=TIMEOUT).json()
    cache.clear()  # Redis db 13: this run's own cache
    head = User.objects.get(username="head")
    fresh = {unit: rates(user=head, unit=unit) for unit in ("fracture", "procedure", "patient")}
    fresh["cohort"] = cohort(user=head)
    problems = []
    for name, value in fresh.items():
        normal = json.loads(json.dumps(value, cls=DjangoJSONEncoder))
        if normal != served[name]:
            problems.append(f"stats {name}: served {served[name]!r} != fresh {normal!r}")
    return problems


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(1, round(q * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def report(stats: Stats, elapsed: float) -> None:
    total = sum(len(v) for v in stats.latencies.values())
    print(f"\n{total} requests in {elapsed:.1f} s: {total / elapsed:.1f} req/s")
    header = f"{'kind':<22}{'requests':>9}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
    print(header + "  statuses")
    for kind in sorted(stats.latencies):
        values = stats.latencies[kind]
        codes = ", ".join(f"{c or 'conn'}: {n}" for c, n in sorted(stats.statuses[kind].items()))
        print(
            f"{kind:<22}{len(values):>9}{len(values) / elapsed:>8.1f}"
            f"{percentile(values, 0.5):>9.0f}{percentile(values, 0.95):>9.0f}"
            f"{percentile(values, 0.99):>9.0f}  {codes}"
        )
    every = [x for v in stats.latencies.values() for x in v]
    if every:
        print(
            f"{'all':<22}{len(every):>9}{len(every) / elapsed:>8.1f}{percentile(every, 0.5):>9.0f}"
            f"{percentile(every, 0.95):>9.0f}{percentile(every, 0.99):>9.0f}"
        )
    by_kind = defaultdict(int)
    for write in stats.writes:
        by_kind[write["kind"]] += 1
    print(
        f"\nacknowledged writes: {len(stats.writes)} creates "
        f"({', '.join(f'{k} {n}' for k, n in sorted(by_kind.items()))}), "
        f"{len(stats.patches)} PATCHes; expected 412 conflicts: {stats.conflicts}"
    )
    fivexx = [e for e in stats.errors if isinstance(e["status"], int) and e["status"] >= 500]
    print(f"errors: {len(stats.errors)} ({len(fivexx)} 5xx)")
    for error in stats.errors[:10]:
        print("  ", json.dumps(error)[:600])


def interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--fresh", action="store_true", help=f"drop and recreate {DB_NAME} first (only it)"
    )
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/13",
        help="the server's cache: a Redis database of its own (cleared at the end)",
    )
    parser.add_argument("--log", type=Path, help="gunicorn's output (default: a temporary file)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if not 1 <= args.clients <= MAX_CLIENTS or not 1 <= args.seconds <= MAX_SECONDS:
        sys.exit(f"--clients must be 1-{MAX_CLIENTS} and --seconds 1-{MAX_SECONDS}.")
    if not (1 <= args.workers <= 16 and 1 <= args.threads <= 16):
        sys.exit("--workers and --threads must be 1-16.")
    if not args.redis_url.startswith(("redis://127.0.0.1", "redis://localhost")):
        sys.exit("Loopback only: --redis-url must point at 127.0.0.1.")

    database_url = f"{PG}/{DB_NAME}"
    env = env_for_server(database_url, args.redis_url)
    log = args.log or Path(tempfile.mkstemp(prefix="registry_load_gunicorn_", suffix=".log")[1])
    print(
        f"[{time.strftime('%H:%M:%S', time.gmtime())}] migrating and seeding {DB_NAME}...",
        flush=True,
    )
    ensure_database(env, fresh=args.fresh)
    setup_django(env)

    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    from complications.models import ComplicationEvent
    from registry.models import Patient, Procedure

    # The demo's published passwords stop a production server (registry.E001): this run's
    # own password for every account, used below for the token endpoint's check.
    password = secrets.token_urlsafe(16)
    for account in User.objects.all():
        account.set_password(password)
        account.save(update_fields=["password"])
    users = {name: User.objects.get(username=name) for name in ("radiologist", "head")}
    tokens = {name: Token.objects.get_or_create(user=user)[0].key for name, user in users.items()}
    stats = Stats()
    stats.patients = list(Patient.objects.values_list("pk", flat=True))
    stats.complications = list(ComplicationEvent.objects.values_list("pk", flat=True))
    for procedure in Procedure.objects.prefetch_related("fractures"):
        stats.procedures.append(
            {
                "id": procedure.pk,
                "ended_at": procedure.ended_at.isoformat(),
                "fractures": sorted(f.pk for f in procedure.fractures.all()),
            }
        )
    before = {
        "patients": Patient.objects.count(),
        "procedures": Procedure.objects.count(),
        "complications": ComplicationEvent.objects.count(),
    }
    from django.db import connections

    connections.close_all()

    port = free_port()
    base = f"http://{HOST}:{port}"
    server = start_gunicorn(env, port, args.workers, args.threads, log)
    previous = signal.signal(signal.SIGTERM, interrupt)  # kill <pid>: gunicorn stopped too
    failed = False
    try:
        wait_healthy(base, server, log)
        for name in ("radiologist", "head"):
            response = requests.post(
                base + "/api/v1/auth/token/",
                json={"username": name, "password": password},
                timeout=TIMEOUT,
            )
            if response.status_code != 200 or response.json().get("token") != tokens[name]:
                print(f"token endpoint for {name}: {response.status_code} {response.text[:200]}")
                failed = True
        run = time.strftime("%Y%m%d%H%M%S", time.gmtime())
        print(
            f"[{time.strftime('%H:%M:%S', time.gmtime())}] gunicorn on {base} "
            f"({args.workers} workers x {args.threads} threads); "
            f"{args.clients} clients for {args.seconds:.0f} s "
            f"(run {run}, log {log})",
            flush=True,
        )
        load_before = os.getloadavg()
        cpu_before = own_cpu_seconds(), group_cpu_seconds(server.pid)
        start = time.monotonic()
        end = start + args.seconds
        clients = [
            Client(
                i,
                base,
                tokens["head" if i % 5 == 4 else "radiologist"],
                "head" if i % 5 == 4 else "radiologist",
                stats,
                run,
                end,
            )
            for i in range(args.clients)
        ]
        threads = [threading.Thread(target=c.loop, daemon=True) for c in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(0.0, end - time.monotonic()) + TIMEOUT + 5)
        elapsed = time.monotonic() - start
        load_after = os.getloadavg()
        cpu = own_cpu_seconds() - cpu_before[0], group_cpu_seconds(server.pid) - cpu_before[1]
        report(stats, elapsed)
        medians = sorted(percentile(c.latencies, 0.5) for c in clients if c.latencies)
        if medians:
            print(
                f"per-client median latency (ms): min {medians[0]:.0f}, "
                f"median {percentile(medians, 0.5):.0f}, max {medians[-1]:.0f}; "
                f"requests per client: min {min(len(c.latencies) for c in clients)}, "
                f"max {max(len(c.latencies) for c in clients)}"
            )
        print(
            f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}; CPU seconds "
            f"during the run: this client process {cpu[0]:.0f}, gunicorn {cpu[1]:.0f} "
            f"(of {os.cpu_count()} cores x {elapsed:.0f} s = {os.cpu_count() * elapsed:.0f})"
        )

        verified, problems = verify_writes(stats)
        problems += verify_stats(base, tokens["head"])
        after = {
            "patients": Patient.objects.count(),
            "procedures": Procedure.objects.count(),
            "complications": ComplicationEvent.objects.count(),
        }
        acked = defaultdict(int)
        for write in stats.writes:
            acked[write["kind"]] += 1
        stored = {
            name: after[name] - before[name] for name in ("patients", "procedures", "complications")
        }
        print(
            f"\nacknowledged writes verified: {verified} of {len(stats.writes)} creates "
            f"(PATCH chains checked within their complications); problems: {len(problems)}"
        )
        print(
            f"rows added (stored vs acknowledged): patients {stored['patients']} vs "
            f"{acked['patient']}, procedures {stored['procedures']} vs {acked['procedure']}, "
            f"complications {stored['complications']} vs {acked['complication']}"
        )
        stats_differ = any(problem.startswith("stats") for problem in problems)
        print(f"stats endpoints vs fresh selectors: {'differ' if stats_differ else 'equal'}")
        for problem in problems[:20]:
            print("  ", problem[:1000])
        failed = failed or bool(stats.errors) or bool(problems)
        if args.json:
            args.json.write_text(
                json.dumps(
                    {
                        "clients": args.clients,
                        "seconds": elapsed,
                        "requests": {k: len(v) for k, v in stats.latencies.items()},
                        "statuses": {k: dict(v) for k, v in stats.statuses.items()},
                        "p50_p95_p99_ms": {
                            k: [percentile(v, q) for q in (0.5, 0.95, 0.99)]
                            for k, v in stats.latencies.items()
                        },
                        "errors": stats.errors[:50],
                        "conflicts_412": stats.conflicts,
                        "creates": len(stats.writes),
                        "patches": len(stats.patches),
                        "verified": verified,
                        "problems": problems,
                        "machine": f"{platform.platform()}, {os.cpu_count()} cores",
                        "load_average": [load_before[0], load_after[0]],
                        "cpu_seconds_client_gunicorn": cpu,
                    },
                    indent=1,
                    default=str,
                )
            )
    finally:
        stop_gunicorn(server)
        signal.signal(signal.SIGTERM, previous)
    print(f"gunicorn stopped; its log: {log}")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted (gunicorn stopped; acknowledged writes not verified)")
