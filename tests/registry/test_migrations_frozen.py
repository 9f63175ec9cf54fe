"""Migrations freeze what they write: historical models and data held in the migration
(or a file beside it), never the application's code, so a fresh install and an upgraded one
end up alike whatever the code becomes. What follows the code (the newest curated catalogue,
the outcome summary) is ``registry_deploy``'s, run after every migrate."""

from __future__ import annotations

import ast
import importlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from complications.ctcae import load_curated_catalogue
from registry.roles import ROLE_ACTIONS, role_permissions

ROOT = Path(settings.BASE_DIR)
MIGRATIONS = sorted(ROOT.glob("*/migrations/*.py"))
APPLICATION = {p.parent.name for p in ROOT.glob("*/__init__.py")} | {"tests", "bench"}
THIRD_PARTY = {"django", "simple_history"}
# A schema migration names a field's validator by its import path (Django never calls it
# while migrating, and would see a changed field without it).
VALIDATOR_PATHS = {("registry/migrations/0001_initial.py", "registry.models")}


def _imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            modules.add("." * node.level + (node.module or ""))
    return modules


def test_the_scan_covers_both_apps_migrations():
    assert {p.parent.parent.name for p in MIGRATIONS} == {"registry", "complications"}
    assert {"registry", "complications"} <= APPLICATION


@pytest.mark.parametrize("path", MIGRATIONS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_migration_imports_application_code(path):
    relative = str(path.relative_to(ROOT))
    foreign = {
        module
        for module in _imported_modules(path)
        if (relative, module) not in VALIDATOR_PATHS
        and (
            module.startswith(".")
            or module.split(".")[0] not in sys.stdlib_module_names | THIRD_PARTY
        )
    }
    assert foreign == set()


def test_the_newest_frozen_roles_are_those_registry_roles_declares():
    # A change to registry/roles.py comes with a migration that freezes the new table.
    newest = max(p for p in ROOT.glob("registry/migrations/0*.py") if "\nROLES = " in p.read_text())
    frozen = importlib.import_module(f"registry.migrations.{newest.stem}").ROLES
    assert {role: sorted(perms) for role, perms in frozen.items()} == {
        role: sorted(role_permissions(role)) for role in ROLE_ACTIONS
    }


def _manage(database: Path, *args: str) -> str:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "DJANGO_SETTINGS_MODULE": "registry.settings",
        "DEBUG": "true",
        "CELERY_BROKER_URL": "memory://",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def test_a_fresh_database_migrated_then_deployed_holds_todays_catalogue_roles_and_summary(
    tmp_path,
):
    database = tmp_path / "fresh.sqlite3"
    _manage(database, "migrate", "--noinput")
    _manage(database, "registry_deploy")

    with sqlite3.connect(database) as db:
        stored = {
            row[0]: row[1:]
            for row in db.execute(
                "SELECT code, name, soc, definition, curated, grade_1, grade_2, grade_3, grade_4,"
                " grade_5 FROM complications_ctcaeterm"
            )
        }
        roles: dict[str, set[str]] = {}
        for group, app, codename in db.execute(
            "SELECT g.name, ct.app_label, p.codename FROM auth_group g"
            " JOIN auth_group_permissions gp ON gp.group_id = g.id"
            " JOIN auth_permission p ON p.id = gp.permission_id"
            " JOIN django_content_type ct ON ct.id = p.content_type_id"
        ):
            roles.setdefault(group, set()).add(f"{app}.{codename}")
    assert stored == {
        term.code: (
            term.name,
            term.soc,
            term.definition,
            1,
            *(term.grades[g] for g in range(1, 6)),
        )
        for term in load_curated_catalogue().values()
    }
    assert roles == {role: set(role_permissions(role)) for role in ROLE_ACTIONS}

    # A registry with patients: its summary equals a recomputation, and the next release's
    # deploy changes no term.
    _manage(database, "demo")
    _manage(database, "outcomes_rebuild", "--check")
    again = _manage(database, "registry_deploy")
    assert f"{len(stored)} terms read from the curated catalogue: 0 created, 0 updated" in again
    _manage(database, "outcomes_rebuild", "--check")
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT count(*) FROM complications_fractureoutcome").fetchone()[0] > 0
