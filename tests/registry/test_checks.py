"""Production refuses to start while a demo account keeps its published password (registry.E001)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from registry.checks import demo_passwords
from registry.demo import ADMIN, DEMO_USERS, ensure_users

ROOT = Path(__file__).resolve().parents[2]
DEMO_NAMES = sorted([name for name, *_ in DEMO_USERS] + [ADMIN[0]])
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "k8#Qz!t4Lm2@Wp9^Rv6&Yc3*Hb7(Nd5)Fg1-Js0+Xa=Tu8%Ow4$Ie2",
    "ALLOWED_HOSTS": "registry.example.org",
}


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    return settings


@pytest.mark.django_db
def test_production_refuses_every_active_account_with_its_demo_password(production, department):
    ensure_users(department)

    [error] = demo_passwords()

    assert error.id == "registry.E001" and error.is_serious()
    assert all(name in error.msg for name in DEMO_NAMES)
    with pytest.raises(SystemCheckError, match="registry.E001"):
        call_command("check")


@pytest.mark.django_db
def test_accounts_with_a_new_password_or_inactive_are_not_named(production, department):
    ensure_users(department)
    head = User.objects.get(username="head")
    head.set_password("a long and private passphrase")
    head.save()
    User.objects.filter(username="apiclient").update(is_active=False)

    [error] = demo_passwords()

    assert "head" not in error.msg and "apiclient" not in error.msg
    assert "radiologist" in error.msg
    User.objects.filter(username__in=DEMO_NAMES).update(is_active=False)
    assert demo_passwords() == []


@pytest.mark.django_db
def test_the_development_server_keeps_its_demo_accounts_without_a_query(
    settings, department, django_assert_num_queries
):
    settings.DEBUG = True
    ensure_users(department)
    with django_assert_num_queries(0):
        assert demo_passwords() == []


def _run(*args: str, database: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**clean, "DATABASE_URL": f"sqlite:///{database}", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_real_start_refuses_demo_passwords_and_tolerates_a_database_without_tables(tmp_path):
    database = tmp_path / "registry.sqlite3"

    fresh = _run("manage.py", "check", database=database, **PRODUCTION)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr

    migrated = _run("manage.py", "migrate", "--noinput", database=database, DEBUG="true")
    assert migrated.returncode == 0, migrated.stderr
    demo = _run(
        "manage.py",
        "shell",
        "-c",
        "from registry.demo import ensure_users; from registry.services import department_create; "
        "ensure_users(department_create(code='D', name='Demo'))",
        database=database,
        DEBUG="true",
    )
    assert demo.returncode == 0, demo.stderr

    check = _run("manage.py", "check", database=database, **PRODUCTION)
    gunicorn = _run("-c", "import registry.wsgi", database=database, **PRODUCTION)

    for refused in (check, gunicorn):
        assert refused.returncode != 0
        assert "registry.E001" in refused.stderr and "datamanager" in refused.stderr
