"""PostgreSQL backends terminated (``pg_terminate_backend`` from a second connection) during
API writes: the client sees a JSON 503 or a success, every acknowledged write exists exactly
once, and a retry with the same Idempotency-Key never writes twice.

Issue 22: a write that committed was answered 500 (HTML) when the connection dropped before
the re-read after the commit, and the client's retry created a duplicate clinical record.
"""

from __future__ import annotations

import random
import threading
import time
import uuid

import psycopg2
import pytest
from django.db import connection

from registry.api.viewsets import ServiceModelViewSet
from registry.models import Patient
from tests.conftest import token_key_for
from tests.faults.conftest import WEB_APPLICATION_NAME, database_url
from tests.faults.http import call

pytestmark = pytest.mark.postgres


def terminate(pids: str, *params: object) -> int:
    """Terminate the backends the query ``pids`` selects, from a connection of our own."""
    conn = psycopg2.connect(database_url())
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(f"SELECT count(pg_terminate_backend(pid)) FROM ({pids}) AS p", params)
            return int(cursor.fetchone()[0])
    finally:
        conn.close()


def patient(registry_id: str) -> dict[str, str]:
    return {"registry_id": registry_id, "sex": "female", "birth_date": "1950-03-04"}


def test_a_connection_dropped_before_the_answer_is_read_never_doubles_the_write(
    live_server, radiologist, monkeypatch
):
    """The fault exactly where it hurt: between the service's write and reading it back."""
    key = token_key_for(radiologist)
    headers = {"Authorization": f"Token {key}", "Idempotency-Key": str(uuid.uuid4())}
    reload = ServiceModelViewSet._reloaded
    dropped: list[int] = []

    def reload_on_a_dropped_connection(view, instance):  # type: ignore[no-untyped-def]
        if not dropped:  # once: the server thread's own backend, killed from outside
            dropped.append(terminate("SELECT %s AS pid", connection.connection.get_backend_pid()))
        return reload(view, instance)

    monkeypatch.setattr(ServiceModelViewSet, "_reloaded", reload_on_a_dropped_connection)
    url = live_server.url + "/api/v1/patients/"

    first = call("POST", url, body=patient("DROP-1"), headers=headers)
    assert dropped == [1]
    assert first.is_json, (first.status, first.body[:200])
    assert first.status in (201, 503), first
    if first.status == 503:
        assert int(first.headers["retry-after"]) > 0
        assert first.json()["dependency"] == "database"

    retry = call("POST", url, body=patient("DROP-1"), headers=headers)
    assert retry.status == 201, retry
    if first.status == 201:
        assert retry.json() == first.json()
    assert Patient.objects.filter(registry_id="DROP-1").count() == 1


def test_backends_killed_at_random_during_writes_lose_and_double_nothing(web_server, radiologist):
    """Sequential creates through gunicorn while another connection kills its backends at
    random moments (for at most 15 s, so that a slow machine still finishes); each create is
    retried with its key until it is acknowledged."""
    key = token_key_for(radiologist)
    database = connection.settings_dict["NAME"]
    own = connection.connection.get_backend_pid() if connection.connection else 0
    stop = threading.Event()
    kills: list[int] = []

    deadline = time.monotonic() + 15

    def killer() -> None:
        while not stop.wait(random.uniform(0.02, 0.3)) and time.monotonic() < deadline:
            kills.append(
                terminate(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> %s"
                    " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                    " AND application_name = %s",  # gunicorn's only: not this worker's others
                    database,
                    own,
                    WEB_APPLICATION_NAME,
                )
            )

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    acknowledged: dict[str, int] = {}
    faults: list[tuple[int, bool]] = []
    try:
        for n in range(10):
            registry_id = f"KILL-{n:03d}"
            headers = {"Authorization": f"Token {key}", "Idempotency-Key": uuid.uuid4().hex}
            for _attempt in range(200):
                answer = call(
                    "POST",
                    web_server.url + "/api/v1/patients/",
                    body=patient(registry_id),
                    headers=headers,
                )
                if answer.status == 201:
                    acknowledged[registry_id] = answer.json()["id"]
                    break
                faults.append((answer.status, answer.is_json))
                assert answer.is_json and answer.status in (500, 503), (answer, registry_id)
                time.sleep(0.05)
            else:
                pytest.fail(f"{registry_id} never acknowledged: {faults[-5:]}")
    finally:
        stop.set()
        thread.join()
    connection.close()  # the test's own connection may have been idle through the kills
    stored = dict(
        Patient.objects.filter(registry_id__startswith="KILL-").values_list("registry_id", "pk")
    )
    assert stored == acknowledged  # every acknowledged write, once, and nothing else
    assert sum(kills) > 0
    print(f"{sum(kills)} backends killed; {len(faults)} JSON 5xx answers retried")
