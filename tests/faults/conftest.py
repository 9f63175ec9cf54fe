"""The registry served the production way, for the fault tests.

``production_server`` reads docker-compose.yml as an operator would run it: the web
service's gunicorn command (with its config file, if it names one), and in front of it, if
the compose file has a ``proxy`` service, nginx with the config file that service mounts.
Both listen on free loopback ports and are stopped by the fixture. gunicorn reaches this
test's PostgreSQL database (the tests are transactional, so what they create is visible).
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests import services
from tests.faults.services import celery_restored, redis_server, start_worker  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


WEB_APPLICATION_NAME = "registry-fault-web"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"exited ({proc.returncode}):\n{log.read_text()[-4000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"not listening on {port} after {timeout} s:\n{log.read_text()[-4000:]}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def gunicorn_args(port: int) -> list[str]:
    """The compose web command's gunicorn arguments, bound to ``port`` on the loopback."""
    command = compose()["services"]["web"]["command"]
    command = " ".join(command) if isinstance(command, list) else command
    found = re.search(r"gunicorn\s+([^\"&]+)", command)
    assert found, command
    args = shlex.split(found.group(1))
    if "--bind" in args:
        args[args.index("--bind") + 1] = f"127.0.0.1:{port}"
    else:
        args += ["--bind", f"127.0.0.1:{port}"]
    return [*args, "--workers", "2"] if "-c" in args else args


def database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgres://{db['USER'] or 'postgres'}@{host}:{port}/{db['NAME']}"


def nginx_config(tmp: Path, *, listen: int, upstream: int) -> Path:
    """The compose proxy's nginx config, listening on ``listen``, passing to ``upstream``."""
    proxy = compose()["services"]["proxy"]
    for volume in proxy["volumes"]:
        source, target = volume.split(":")[:2]
        text = (ROOT / source).read_text()
        if target == "/etc/nginx/nginx.conf":
            text = re.sub(r"server web:8000;", f"server 127.0.0.1:{upstream};", text)
            text = re.sub(r"listen 80;", f"listen 127.0.0.1:{listen};", text)
            text = text.replace("access_log /dev/stdout;", f"access_log {tmp}/access.log;")
            temp = "\n".join(
                f"    {kind}_temp_path {tmp}/{kind};"
                for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
            )
            text = text.replace("http {", "http {\n" + temp, 1)
        (tmp / Path(target).name).write_text(text)
    return tmp / "nginx.conf"


@dataclass
class Server:
    url: str
    port: int
    behind_proxy: bool
    gunicorn_log: Path


@pytest.fixture
def web_server(transactional_db, tmp_path) -> Iterator[Server]:
    """gunicorn as the compose web service runs it, on a free loopback port (no proxy)."""
    web_port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "registry.settings",
        # Named, so that a test killing the web server's backends kills only those.
        "DATABASE_URL": database_url() + f"?application_name={WEB_APPLICATION_NAME}",
        "DEBUG": "false",
        "SECRET_KEY": "fault-tests-only-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_HSTS_SECONDS": "0",
        "SECURE_HSTS_PRELOAD": "false",
        "LOG_LEVEL": "WARNING",
    }
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "REDIS_URL"):
        env.pop(name, None)
    log = tmp_path / "gunicorn.log"
    with open(log, "w") as out:
        web = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", *gunicorn_args(web_port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(web_port, web, log)
        yield Server(f"http://127.0.0.1:{web_port}", web_port, False, log)
    finally:
        stop(web)


@pytest.fixture
def production_server(web_server, tmp_path) -> Iterator[Server]:
    """The web server behind the compose file's proxy (nginx), when the compose file has one."""
    if "proxy" not in compose()["services"]:
        yield web_server  # published directly, as the compose file says
        return
    if services.missing("nginx"):
        pytest.skip(f"nginx: {services.missing('nginx')}")
    port = free_port()
    config = nginx_config(tmp_path, listen=port, upstream=web_server.port)
    nginx_log = tmp_path / "nginx.log"
    directives = f"daemon off; pid {tmp_path}/nginx.pid;"
    if os.geteuid() == 0:
        directives += " user root;"  # its workers must reach the temporary directory
    with open(nginx_log, "w") as out:
        nginx = subprocess.Popen(
            [services.nginx_path() or "nginx", "-p", str(tmp_path), "-c", str(config)]
            + ["-g", directives],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, nginx, nginx_log)
        yield Server(f"http://127.0.0.1:{port}", port, True, web_server.gunicorn_log)
    finally:
        stop(nginx)
