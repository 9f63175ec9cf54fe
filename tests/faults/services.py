"""Real services a fault test starts, breaks and restarts itself: a redis-server of its own
(Debian's binary, on a free loopback port, persisting to a temporary folder) and Celery
worker processes on it, sharing the test's PostgreSQL database.

Each is stopped by the test that started it (the fixtures' ``finally``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, *, up: bool, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            if up:
                return
        except OSError:
            if not up:
                return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} still {'closed' if up else 'open'} after {timeout} s")


class RedisServer:
    """A redis-server that keeps its data across restarts (append-only file, fsync always)."""

    def __init__(self, binary: str, folder: Path) -> None:
        self.binary, self.folder, self.port = binary, folder, _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--dir", str(self.folder),
                "--appendonly", "yes",
                "--appendfsync", "always",
                "--save", "",
                "--protected-mode", "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_for_port(self.port, up=True)

    def stop(self) -> None:
        """SIGKILL: a crash, nothing saved at shutdown; what it had persisted comes back."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None
        _wait_for_port(self.port, up=False)


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    binary = (
        os.environ.get("REDIS_SERVER") or shutil.which("redis-server") or "/usr/bin/redis-server"
    )
    if not os.path.exists(binary):
        pytest.skip("redis: needs the redis-server binary (Debian's redis-server, or REDIS_SERVER)")
    folder = tmp_path / "redis"
    folder.mkdir()
    server = RedisServer(binary, folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Worker:
    """A real Celery worker process (solo pool) on ``broker``, listening on its own queue."""

    def __init__(self, broker: str, queue: str, env: dict[str, str]) -> None:
        self.broker, self.queue, self.env = broker, queue, env
        self.log = open(ROOT / "var" / f"celery-{queue}.log", "a+")  # noqa: SIM115 - closed in stop
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "registry", "worker",
                "-P", "solo", "-Q", queue, "--without-gossip", "--without-mingle",
                "--without-heartbeat", "--loglevel=INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    def kill(self) -> None:
        """SIGKILL: the worker vanishes mid-task, no clean-up, no acknowledgement."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()

    def output(self) -> str:
        self.log.flush()
        return (ROOT / "var" / f"celery-{self.queue}.log").read_text()[-4000:]


@pytest.fixture
def start_worker(transactional_db, settings) -> Iterator:
    """Start workers on a broker; each shares this test's database and MEDIA_ROOT."""
    from django.db import connection

    db = connection.settings_dict
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    queue = f"fault-{uuid.uuid4().hex[:8]}"
    started: list[Worker] = []

    def start(broker: str) -> Worker:
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{db['USER'] or 'postgres'}@{host}:{port}/{db['NAME']}",
            "CELERY_BROKER_URL": broker,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        }
        env.pop("CELERY_RESULT_BACKEND", None)
        worker = Worker(broker, queue, env)
        started.append(worker)
        return worker

    start.queue = queue  # type: ignore[attr-defined]
    try:
        yield start
    finally:
        for worker in started:
            worker.stop()


def point_celery_at(broker: str, queue: str | None = None) -> None:
    """Make this process publish to ``broker`` (and ``queue``) from the next message on:
    Celery caches its connection and producer pools."""
    from registry.celery import app

    app.conf.broker_url = broker
    app.conf.task_default_queue = queue or "celery"
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def celery_restored() -> Iterator[None]:
    """Whatever a test points Celery at, the next test finds it as it was."""
    from registry.celery import app

    saved = (app.conf.broker_url, app.conf.task_default_queue, app.conf.task_always_eager)
    app.conf.task_always_eager = False
    try:
        yield
    finally:
        point_celery_at(saved[0], saved[1])
        app.conf.task_always_eager = saved[2]
