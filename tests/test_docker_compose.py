"""Docker cannot run here, so the production shape is checked by reading it."""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _command(service: dict) -> str:
    command = service["command"]
    return " ".join(command) if isinstance(command, list) else command


def test_it_defines_the_five_services_of_the_production_shape(compose):
    assert set(compose["services"]) == {"db", "redis", "web", "worker", "beat"}


def test_the_database_and_redis_have_health_checks(compose):
    db, redis = compose["services"]["db"], compose["services"]["redis"]
    assert db["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert redis["image"].startswith("redis:")
    assert "ping" in redis["healthcheck"]["test"]


@pytest.mark.parametrize("name", ["web", "worker", "beat"])
def test_the_application_services_wait_for_a_healthy_database_and_broker(compose, name):
    service = compose["services"][name]
    assert service["depends_on"]["db"]["condition"] == "service_healthy"
    assert service["depends_on"]["redis"]["condition"] == "service_healthy"
    env = service["environment"]
    assert env["DATABASE_URL"].startswith("postgres://") and "@db:5432/" in env["DATABASE_URL"]
    assert env["CELERY_BROKER_URL"].startswith("redis://redis:6379")
    assert env["DEBUG"] == "false"


def test_web_migrates_then_serves_the_wsgi_app_under_gunicorn_with_a_health_check(compose):
    web = compose["services"]["web"]
    command = _command(web)
    assert command.index("migrate") < command.index("gunicorn registry.wsgi:application")
    assert "8000:8000" in web["ports"]
    assert "/health/" in " ".join(web["healthcheck"]["test"])


def test_web_runs_the_release_data_steps_after_migrating_and_before_serving(compose):
    # The migrations hold only what was frozen in them: registry_deploy brings the release's
    # curated catalogue and outcome summary.
    command = _command(compose["services"]["web"])
    assert (
        command.index("manage.py migrate")
        < command.index("manage.py registry_deploy")
        < command.index("gunicorn")
    )


def test_the_embedded_registry_runs_the_release_data_steps_after_migrating():
    serve = (ROOT / "scripts" / "serve").read_text()
    assert (
        serve.index("manage.py migrate")
        < serve.index("manage.py registry_deploy")
        < serve.index("manage.py demo")
    )


def test_the_worker_and_beat_run_the_registry_celery_app(compose):
    assert re.search(r"celery -A registry worker", _command(compose["services"]["worker"]))
    assert re.search(r"celery -A registry beat", _command(compose["services"]["beat"]))
    assert "inspect ping" in " ".join(compose["services"]["worker"]["healthcheck"]["test"])


def test_the_commands_name_modules_that_exist():
    assert (ROOT / "registry" / "wsgi.py").exists()
    assert (ROOT / "registry" / "celery.py").exists()
    assert (ROOT / "registry" / "views.py").read_text().count("def health") == 1


def test_the_dockerfile_builds_assets_with_npm_and_runs_gunicorn():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "npm ci" in dockerfile
    assert "collectstatic" in dockerfile
    assert re.search(r'CMD \["gunicorn", "registry.wsgi:application"', dockerfile)


def test_every_environment_variable_the_settings_read_is_in_env_example():
    settings_src = (ROOT / "registry" / "settings.py").read_text()
    read = set(re.findall(r'env_(?:str|bool|int|list)\(\s*"([A-Z_]+)"', settings_src))
    example = {
        line.lstrip("# ").split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line
    }
    assert read, "the settings read no variable?"
    assert read <= example, f"missing from .env.example: {sorted(read - example)}"
