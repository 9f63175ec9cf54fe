"""The restore drill of docs/backup.md, run for real: dump, restore into a fresh database,
and the registry's statistics come out identical.

The statistics are computed by the registry's own selectors in a separate
``manage.py shell`` process pointed at each database through DATABASE_URL,
exactly as a restored production instance would compute them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.db import connection

from complications.demo import build_cohort

# Committed data (a transactional test), so that pg_dump, another connection, sees it;
# serialized_rollback brings back the data of the migrations (the CTCAE catalogue the
# cohort is graded against, the roles) that an earlier transactional test's flush removed.
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

ROOT = Path(__file__).resolve().parents[2]
MARK = "STATS:"

# What the comparison covers: the rates in every unit and the cohort table, the number of
# rows of every table (audit trail included), a checksum of the graded complications, and
# the audit trail's guard (its triggers come back with the schema).
STATS = f"""
import hashlib, json
from django.apps import apps
from django.contrib.auth.models import User
from django.db import connection
from complications.stats.cohort import cohort
from complications.stats.rates import rates
from complications.stats.selection import UNITS
from complications.models import ComplicationEvent

reader = User(username="backup-check", is_superuser=True)
graded = ComplicationEvent.objects.order_by("id").values_list("id", "grade", "window")
with connection.cursor() as cursor:
    cursor.execute("SELECT count(*) FROM pg_trigger WHERE tgname = 'history_immutable'")
    guards = cursor.fetchone()[0]
print({MARK!r} + json.dumps({{
    "rates": {{unit: rates(user=reader, unit=unit) for unit in UNITS}},
    "cohort": cohort(user=reader),
    "rows": {{m._meta.db_table: m._default_manager.count() for m in apps.get_models()}},
    "complications": hashlib.sha256(repr(list(graded)).encode()).hexdigest(),
    "guards": guards,
}}, default=str, sort_keys=True))
"""


def _pg_env() -> dict[str, str]:
    db = connection.settings_dict
    env = {
        **os.environ,
        "PGHOST": db["HOST"] or "127.0.0.1",
        "PGPORT": str(db["PORT"] or 5432),
        "PGUSER": db["USER"] or "postgres",
    }
    if db["PASSWORD"]:
        env["PGPASSWORD"] = db["PASSWORD"]
    return env


def _run(*args: str) -> None:
    result = subprocess.run(args, env=_pg_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{args[0]} failed:\n{result.stderr}"


def _stats(database: str) -> dict:
    env = _pg_env()
    env["DATABASE_URL"] = f"postgres://{env['PGUSER']}@{env['PGHOST']}:{env['PGPORT']}/{database}"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", STATS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith(MARK))
    return json.loads(line.removeprefix(MARK))


def test_a_custom_format_dump_restored_into_a_fresh_database_gives_identical_statistics(
    department, tmp_path
):
    build_cohort(department)
    source = connection.settings_dict["NAME"]
    restored = f"{source}_restored_{uuid.uuid4().hex[:8]}"
    dump = tmp_path / "registry.dump"

    _run("pg_dump", "--format=custom", "--file", str(dump), source)
    _run("createdb", restored)
    try:
        _run("pg_restore", "--no-owner", "--exit-on-error", "--dbname", restored, str(dump))
        before, after = _stats(source), _stats(restored)
    finally:
        _run("dropdb", "--if-exists", restored)

    assert after == before
    # The comparison is of a real registry: the study's cohort, with its audit trail.
    delayed = before["rates"]["fracture"]["windows"]["delayed"]
    assert (delayed["events"], delayed["at_risk"]) == (14, 79)
    assert before["rows"]["registry_patient"] == 94
    assert before["rows"]["registry_historicalpatient"] >= 94
    assert before["guards"] > 0
