"""Export jobs against real faults: the worker killed (SIGKILL) in the middle of an export,
the broker (its own redis-server) stopped while exports are requested. The job never stays
"running", no temporary file is left, every request is answered the documented way and the
job runs once the broker is back."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.db import connections

from complications.exports import export_jobs_sweep
from complications.models import ExportJob
from complications.tasks import export_run
from tests import factories as f
from tests.conftest import api_client_for
from tests.factories import PARIS
from tests.faults.services import point_celery_at

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def media(monkeypatch, settings, tmp_path) -> Path:
    monkeypatch.setenv("MEDIA_ROOT", str(tmp_path))
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _cases(department) -> None:
    for day in (6, 7, 8):
        procedure = f.procedure(
            f.patient(department), started_at=datetime(2020, 1, day, 9, tzinfo=PARIS)
        )
        f.fracture(procedure)
        f.complication(procedure, window="delayed", grade=2)


def _wait(job: ExportJob, until, *, worker=None, timeout: float = 60) -> ExportJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if until(job):
            return job
        time.sleep(0.1)
    output = worker.output() if worker else ""
    pytest.fail(f"job {job.pk} stayed {job.status} ({job.attempts} attempts)\n{output}")


def _parts(media: Path) -> list[Path]:
    return sorted((media / "exports").glob("*.part")) if (media / "exports").exists() else []


def _hold_table(table: str):  # type: ignore[no-untyped-def]
    """Another session locks the table the export reads next: the worker waits inside its
    export (running, its temporary file created) until the lock is released."""
    held = connections.create_connection("default")
    held.set_autocommit(False)
    with held.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    return held


def test_a_worker_killed_mid_export_leaves_a_job_that_is_requeued_and_finished(
    media, redis_server, start_worker, celery_restored, head, department
):
    _cases(department)
    job = ExportJob.objects.create(owner=head, format="csv", kind="cases")
    job.departments.set([department])
    broker = redis_server.url(0)
    point_celery_at(broker, start_worker.queue)

    held = _hold_table("registry_fracture")
    try:
        worker = start_worker(broker)
        export_run.delay(job.pk)
        _wait(job, lambda j: j.status == "running" and _parts(media), worker=worker)
        worker.kill()
    finally:
        held.rollback()
        held.close()
    assert (job.status, job.attempts, len(_parts(media))) == ("running", 1, 1)

    # Nothing moves until the sweep finds the heartbeat too old (here 1 s instead of 120 s).
    time.sleep(1.5)
    counts = export_jobs_sweep(stale_after=timedelta(seconds=1))
    assert (counts["requeued"], counts["sent"], counts["parts_removed"]) == (1, 1, 1)
    job.refresh_from_db()
    assert (job.status, _parts(media)) == ("queued", [])

    replacement = start_worker(broker)
    job = _wait(job, lambda j: j.status == "done", worker=replacement)
    assert (job.attempts, job.progress, job.error) == (2, 100, "")
    assert (media / job.file.name).read_text().count("\n") == 4  # header and 3 fractures
    assert _parts(media) == []


def test_a_job_whose_workers_keep_dying_is_failed_with_the_reason(
    media, redis_server, start_worker, celery_restored, head, department, settings
):
    _cases(department)
    job = ExportJob.objects.create(owner=head, format="csv", kind="cases")
    job.departments.set([department])
    broker = redis_server.url(0)
    point_celery_at(broker, start_worker.queue)
    ExportJob.objects.filter(pk=job.pk).update(attempts=settings.EXPORT_MAX_ATTEMPTS - 1)

    held = _hold_table("registry_fracture")
    try:
        worker = start_worker(broker)
        export_run.delay(job.pk)
        _wait(job, lambda j: j.status == "running" and _parts(media), worker=worker)
        worker.kill()
    finally:
        held.rollback()
        held.close()

    time.sleep(1.5)
    assert export_jobs_sweep(stale_after=timedelta(seconds=1))["failed"] == 1
    job.refresh_from_db()
    assert job.status == "failed" and not job.file
    assert f"stopped {settings.EXPORT_MAX_ATTEMPTS} times without finishing" in job.error
    assert _parts(media) == []


def test_exports_requested_while_the_broker_is_stopped_run_once_it_is_back(
    media, redis_server, start_worker, celery_restored, head, department
):
    _cases(department)
    broker = redis_server.url(0)
    point_celery_at(broker, start_worker.queue)
    worker = start_worker(broker)
    api = api_client_for(head)
    first = api.post("/api/v1/exports/", {"format": "csv", "kind": "cases"}, format="json")
    assert first.status_code == 202
    _wait(ExportJob.objects.get(pk=first.json()["id"]), lambda j: j.status == "done", worker=worker)

    redis_server.stop()
    answers = [
        api.post("/api/v1/exports/", {"format": body}, format="json")
        for body in ("csv", "xlsx") * 3
    ]
    assert [a.status_code for a in answers] == [202] * 6
    waiting = ExportJob.objects.exclude(pk=first.json()["id"])
    assert sorted({(j.status, j.error) for j in waiting}) == [("queued", "")]

    redis_server.start()  # the worker reconnects by itself; the sweep sends what waited
    assert export_jobs_sweep(requeue_after=timedelta(microseconds=1))["sent"] == 6
    for job in waiting:
        _wait(job, lambda j: j.status == "done", worker=worker)
    assert _parts(media) == []
