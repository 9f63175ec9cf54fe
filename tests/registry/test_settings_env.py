import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from registry.env import env_bool, env_int, env_list, env_str

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("True", True),
        ("1", True),
        ("yes", True),
        ("on", True),
        ("false", False),
        ("FALSE", False),
        ("0", False),
        ("no", False),
        ("off", False),
        ("", True),
    ],
)
def test_env_bool_reads_the_usual_spellings(raw, expected):
    assert env_bool("FLAG", True, environ={"FLAG": raw}) is expected


@pytest.mark.parametrize("raw", ["ture", "2", "enabled", "y e s"])
def test_env_bool_refuses_anything_else(raw):
    with pytest.raises(ImproperlyConfigured, match="FLAG must be true or false"):
        env_bool("FLAG", False, environ={"FLAG": raw})


def test_env_bool_takes_the_default_when_unset():
    assert env_bool("FLAG", False, environ={}) is False


def test_env_int_refuses_a_non_number():
    with pytest.raises(ImproperlyConfigured, match="whole number"):
        env_int("PORT", 25, environ={"PORT": "twenty"})
    assert env_int("PORT", 25, environ={"PORT": "587"}) == 587


def test_env_str_requires_a_value_without_default():
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY is required"):
        env_str("SECRET_KEY", environ={})


def test_a_secret_can_come_from_a_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t\n")
    assert env_str("SECRET_KEY", environ={"SECRET_KEY_FILE": str(secret)}) == "s3cr3t"


def test_a_secret_given_twice_is_an_error(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("a")
    with pytest.raises(ImproperlyConfigured, match="not both"):
        env_str("SECRET_KEY", environ={"SECRET_KEY_FILE": str(secret), "SECRET_KEY": "b"})


def test_env_list_splits_on_commas():
    assert env_list("HOSTS", environ={"HOSTS": "a.org, b.org,,"}) == ["a.org", "b.org"]


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "DATABASE_URL"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_bad_boolean_in_the_environment_stops_the_start_up():
    result = _manage("check", DEBUG="maybe")
    assert result.returncode != 0
    assert "DEBUG must be true or false" in result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage("check", DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_settings_pass_check_deploy_without_warnings(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        # A database of its own: a local one may hold the demo accounts (registry.E001).
        DATABASE_URL=f"sqlite:///{tmp_path / 'registry.sqlite3'}",
        DEBUG="false",
        SECRET_KEY="k8#Qz!t4Lm2@Wp9^Rv6&Yc3*Hb7(Nd5)Fg1-Js0+Xa=Tu8%Ow4$Ie2",
        ALLOWED_HOSTS="registry.example.org",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
