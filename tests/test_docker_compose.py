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


def test_it_defines_the_six_services_of_the_production_shape(compose):
    assert set(compose["services"]) == {"db", "redis", "proxy", "web", "worker", "beat"}


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
    assert command.index("migrate") < command.index("gunicorn -c deploy/gunicorn.conf.py")
    assert "registry.wsgi:application" in command
    assert "/health/live/" in " ".join(web["healthcheck"]["test"])


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
    assert re.search(
        r'CMD \["gunicorn", "-c", "deploy/gunicorn.conf.py", "registry.wsgi:application"',
        dockerfile,
    )


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


# --- the proxy in front, and gunicorn's settings ---------------------------------------------


@pytest.fixture(scope="module")
def nginx_conf() -> str:
    return (ROOT / "deploy" / "nginx.conf").read_text()


def _directive(conf: str, name: str) -> str:
    values = re.findall(rf"^\s*{name}\s+([^;]+);", conf, re.MULTILINE)
    assert len(values) == 1, f"{name}: {values}"
    return values[0].strip()


def _bytes(size: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    return int(size[:-1]) * units[size[-1].lower()] if size[-1].isalpha() else int(size)


def _seconds(value: str) -> int:
    assert value.endswith("s"), value
    return int(value[:-1])


def test_only_the_proxy_is_published_and_web_is_not(compose):
    published = {name for name, service in compose["services"].items() if service.get("ports")}
    assert published == {"proxy"}
    assert compose["services"]["proxy"]["ports"] == ["8000:80"]
    assert "8000" in [str(port) for port in compose["services"]["web"]["expose"]]


def test_the_proxy_is_nginx_with_the_repository_config_and_a_health_check(compose):
    proxy = compose["services"]["proxy"]
    assert proxy["image"].startswith("nginx:")
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in proxy["volumes"]}
    assert mounts["/etc/nginx/nginx.conf"] == "./deploy/nginx.conf"
    assert mounts["/etc/nginx/proxy_headers.conf"] == "./deploy/proxy_headers.conf"
    for source in mounts.values():
        assert (ROOT / source).exists()
    assert "/nginx-health" in " ".join(proxy["healthcheck"]["test"])
    assert proxy["depends_on"]["web"]["condition"] == "service_healthy"


def test_nginx_passes_to_the_web_service_on_its_port(nginx_conf):
    assert re.search(r"upstream registry_web \{\s*server web:8000;", nginx_conf)
    # /api/, /, and the two import uploads (the API's and the page's)
    assert nginx_conf.count("proxy_pass http://registry_web;") == 4
    assert nginx_conf.count("include proxy_headers.conf;") == 4
    assert _directive(nginx_conf, "listen") == "80"


def test_nginx_bounds_slow_clients_and_buffers_both_directions(nginx_conf):
    for name in ("client_header_timeout", "client_body_timeout"):
        assert 1 <= _seconds(_directive(nginx_conf, name)) <= 30, name
    assert 1 <= _seconds(_directive(nginx_conf, "send_timeout")) <= 60
    assert _directive(nginx_conf, "proxy_request_buffering") == "on"
    assert _directive(nginx_conf, "proxy_buffering") == "on"


def test_nginx_body_limit_is_at_least_the_registrys_so_the_app_answers_first(nginx_conf):
    from django.conf import settings

    server_wide = nginx_conf[: nginx_conf.index("server {")]
    limit = _bytes(_directive(server_wide, "client_max_body_size"))
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE <= limit <= 2 * settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def test_nginx_lets_an_import_upload_through_up_to_the_registrys_import_limit(nginx_conf):
    from django.conf import settings

    for path in ("/api/v1/imports/", "/imports/"):
        block = nginx_conf[nginx_conf.index(f"location = {path} {{") :]
        block = block[: block.index("}")]
        limit = _bytes(_directive(block, "client_max_body_size"))
        assert limit == settings.UPLOAD_MAX_SIZES["/api/v1/imports/"], path


def test_nginx_answers_api_clients_in_json_when_it_refuses_or_web_is_down(nginx_conf):
    api = nginx_conf[nginx_conf.index("location /api/") :]
    assert "error_page 413 = @api_too_large;" in api
    assert "error_page 502 503 504 = @api_unavailable;" in api
    for name in ("@api_too_large", "@api_unavailable"):
        block = nginx_conf[nginx_conf.index(f"location {name}") :]
        assert "default_type application/json;" in block.split("}")[0]


@pytest.fixture(scope="module")
def gunicorn_conf() -> dict:
    import runpy

    return runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))


def test_gunicorn_config_names_only_settings_gunicorn_knows(gunicorn_conf):
    from gunicorn.config import Config

    known = set(Config().settings)
    ours = {k for k, v in gunicorn_conf.items() if not k.startswith("_") and not callable(v)}
    ours -= {"annotations", "multiprocessing", "os"}
    assert ours <= known, ours - known


def test_gunicorn_runs_threaded_workers_with_a_short_heartbeat_timeout(gunicorn_conf):
    assert gunicorn_conf["worker_class"] == "gthread"
    assert gunicorn_conf["threads"] >= 2 and gunicorn_conf["workers"] >= 2
    # The old 600 s let a stuck worker hold its slot for ten minutes.
    assert 10 <= gunicorn_conf["timeout"] <= 120
    assert gunicorn_conf["bind"] == "0.0.0.0:8000"
    # Longer than nginx's upstream keepalive use, so nginx never reuses a closed connection.
    assert gunicorn_conf["keepalive"] > 15


def test_the_deployment_guide_explains_the_gunicorn_and_nginx_choices():
    guide = (ROOT / "docs" / "deployment.md").read_text()
    for word in ("gthread", "deploy/gunicorn.conf.py", "deploy/nginx.conf", "client_body_timeout"):
        assert word in guide, word
