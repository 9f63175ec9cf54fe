"""Shared fixtures: departments and one persona per permission level.

- ``radiologist``: enters and edits the cases of department A;
- ``head``: department head of A, reads everything of A;
- ``data_manager``: corrects records of A;
- ``api_user``: token-only API client of A;
- ``outsider``: radiologist of department B, who must see nothing of A;
- ``admin_user``: superuser, sees every department.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from registry import roles
from registry.models import Department
from tests import services
from tests.accounts.provider import _provider_process, oidc_provider  # noqa: F401 - fixtures

SERVICE_MARKERS = ("postgres", "redis", "browser", "nginx")


def _is_xdist_worker(config: pytest.Config) -> bool:
    """True in a pytest-xdist worker: the controller alone decides whether the run passes."""
    return hasattr(config, "workerinput")


def pytest_sessionstart(session: pytest.Session) -> None:
    if _is_xdist_worker(session.config):
        return
    for service in sorted(services.required()):
        reason = services.missing(service)
        if reason:
            pytest.exit(f"REQUIRE_SERVICES names {service}, but this run {reason}", returncode=3)


_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Under pytest-xdist the controller receives every worker's reports through this hook too.
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI (REQUIRE_SERVICES set) nothing may be skipped: a skip fails the run."""
    if _is_xdist_worker(session.config):
        return
    if services.required() and _skipped and exitstatus == 0:
        session.exitstatus = 1
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter:
            reporter.ensure_newline()
            reporter.write_line(
                f"FAIL: {len(_skipped)} test(s) skipped in CI: " + ", ".join(_skipped[:20]),
                red=True,
            )


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """The test database, whose PostgreSQL sessions are all ended before it is dropped.

    A session opened by one of the live server's request threads can outlive its request (an
    idle session whose last query was the request's user lookup); still open at the end of the
    run, it makes dropping the test database fail, which leaves the database on the server.

    Like a release, it runs ``registry_deploy`` after the migrations (the newest curated
    catalogue), then keeps that state as the one the serialized transactional tests restore.
    """
    from django.core.management import call_command
    from django.db import connections

    with django_db_blocker.unblock():
        call_command("registry_deploy", no_regrade=True, stdout=io.StringIO())
        for connection_ in connections.all():
            if hasattr(connection_, "_test_serialized_contents"):
                connection_._test_serialized_contents = (
                    connection_.creation.serialize_db_to_string()
                )
    yield
    from django.db import connection

    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


TRANSACTIONAL_FIXTURES = {"transactional_db", "live_server", "celery_worker"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        # Every transactional test restores the database it found (groups, permissions and the
        # CTCAE catalogue come from data migrations). Mixing serialized and plain transactional
        # tests breaks the serialized ones: the plain flush re-creates content types under new
        # ids, which the next restore then collides with.
        marker = item.get_closest_marker("django_db")
        fixtures = set(getattr(item, "fixturenames", ()))
        if (marker and marker.kwargs.get("transaction")) or fixtures & TRANSACTIONAL_FIXTURES:
            item.add_marker(
                pytest.mark.django_db(transaction=True, serialized_rollback=True), append=False
            )
    for item in items:
        for service in SERVICE_MARKERS:
            if item.get_closest_marker(service):
                reason = services.missing(service)
                if reason:
                    item.add_marker(pytest.mark.skip(reason=f"{service}: {reason}"))


PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing() -> None:
    """Argon2 is slow on purpose; tests create many users. Production keeps Argon2."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _second_factor_not_required(settings) -> None:  # type: ignore[no-untyped-def]
    """The pages' tests sign their personas in with ``force_login``, which no second factor
    follows: the requirement is off for them, and on in the tests of the second factor
    (tests/accounts/, which ask for the ``second_factor_required`` fixture)."""
    settings.SECOND_FACTOR_REQUIRED = False


@pytest.fixture
def second_factor_required(settings) -> None:  # type: ignore[no-untyped-def]
    settings.SECOND_FACTOR_REQUIRED = True


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """Cached statistics are keyed on department ids and the version, which both repeat from
    test to test (a test's writes, and their version bumps, are rolled back): start each test
    with an empty cache so that no result leaks from one test into another."""
    from django.core.cache import cache

    cache.clear()


def _user(username: str, role: str | None, department: Department | None, **extra) -> User:
    user = User.objects.create_user(username=username, password=PASSWORD, **extra)
    if role:
        user.groups.add(Group.objects.get(name=role))
    if department:
        department.members.add(user)
    return user


@pytest.fixture
def department(db) -> Department:
    return Department.objects.create(code="A", name="Department A", time_zone="Europe/Paris")


@pytest.fixture
def other_department(db) -> Department:
    return Department.objects.create(code="B", name="Department B", time_zone="America/New_York")


@pytest.fixture
def radiologist(department) -> User:
    return _user("radiologist", roles.RADIOLOGIST, department)


@pytest.fixture
def head(department) -> User:
    return _user("head", roles.DEPARTMENT_HEAD, department)


@pytest.fixture
def data_manager(department) -> User:
    return _user("data_manager", roles.DATA_MANAGER, department)


@pytest.fixture
def api_user(department) -> User:
    return _user("api_user", roles.API_CLIENT, department)


@pytest.fixture
def outsider(other_department) -> User:
    return _user("outsider", roles.RADIOLOGIST, other_department)


@pytest.fixture
def admin_user(db) -> User:
    return User.objects.create_superuser(
        username="admin", password=PASSWORD, email="admin@example.org"
    )


def token_key_for(user: User) -> str:
    """The key of a new token with every scope the user's role allows (registry.accounts)."""
    from registry.accounts.services import role_scopes, token_create

    _token, key = token_create(user=user, name="test", scopes=role_scopes(user), expires_at=None)
    return key


def api_client_for(user: User) -> APIClient:
    """A client with a token of every scope the user's role allows (registry.accounts)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_key_for(user)}")
    return client


@pytest.fixture
def api(radiologist) -> APIClient:
    """An API client authenticated by token as the radiologist of department A."""
    return api_client_for(radiologist)


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker process on Redis, sharing this test's PostgreSQL database.

    Yields a function that sends a task to it and waits for the result. The
    worker listens on a queue of its own, so stale messages of an earlier run
    can never answer for this one.
    """
    import os
    import subprocess
    import sys
    import time
    import uuid
    from pathlib import Path

    from django.db import connection

    from registry.celery import app

    url = services.redis_url()
    db = connection.settings_dict
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    database_url = f"postgres://{db['USER'] or 'postgres'}@{host}:{port}/{db['NAME']}"
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": url,
        "CELERY_RESULT_BACKEND": url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    root = Path(__file__).resolve().parents[1]
    log = open(root / "var" / f"celery-{queue}.log", "w+")  # noqa: SIM115 - closed below
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "registry",
            "worker",
            "-P",
            "solo",
            "-Q",
            queue,
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    from celery.backends.redis import RedisBackend
    from celery.exceptions import TimeoutError as CeleryTimeout
    from celery.result import AsyncResult

    backend = RedisBackend(app=app, url=url)
    was_eager = app.conf.task_always_eager
    app.conf.task_always_eager = False

    def run(task, *args, timeout: float = 60, **kwargs):
        with app.connection_for_write(url) as conn:
            # The registry stores no task results (CELERY_TASK_IGNORE_RESULT); this call asks
            # for one, which the worker writes to its CELERY_RESULT_BACKEND below.
            sent = task.apply_async(
                args=args, kwargs=kwargs, queue=queue, connection=conn, ignore_result=False
            )
        result = AsyncResult(sent.id, backend=backend, app=app)
        deadline = time.monotonic() + timeout
        while True:
            try:
                return result.get(timeout=1)
            except CeleryTimeout:
                if worker.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(
                        f"the worker did not answer (exit code {worker.poll()}):\n{log.read()[-4000:]}"
                    )

    run.queue = queue  # type: ignore[attr-defined]
    try:
        yield run
    finally:
        app.conf.task_always_eager = was_eager
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()
