"""With the broker down an export request is accepted and kept; it runs once the broker is back."""

import time
from datetime import timedelta

import pytest

from complications.exports import export_jobs_requeue
from complications.models import ExportJob
from registry.celery import app
from tests import factories
from tests.conftest import api_client_for


def _reset_producers() -> None:
    """Make the next publish connect to the broker now configured (Celery caches its pools)."""
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker_down():
    """Point the app at a port where nothing listens: a real refused connection."""
    saved = (app.conf.broker_url, app.conf.task_always_eager)
    app.conf.broker_url, app.conf.task_always_eager = "redis://127.0.0.1:1/0", False
    _reset_producers()
    yield
    app.conf.broker_url, app.conf.task_always_eager = saved
    _reset_producers()


def _request_export(head, department):
    factories.complication(
        factories.procedure(factories.patient(department)), window="early", grade=2
    )
    return api_client_for(head).post("/api/v1/exports/", {"format": "csv"}, format="json")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_export_requested_while_the_broker_is_down_is_accepted_and_stays_queued(
    head, department, broker_down
):
    response = _request_export(head, department)
    assert response.status_code == 202
    job = ExportJob.objects.get()
    assert job.status == ExportJob.Status.QUEUED and not job.file


@pytest.mark.redis
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_queued_export_runs_once_the_broker_is_back(
    celery_worker, head, department, broker_down
):
    assert _request_export(head, department).status_code == 202
    job = ExportJob.objects.get()
    assert job.status == ExportJob.Status.QUEUED
    # The broker comes back: the beat sweep sends the job again, to the real worker.
    from tests import services

    app.conf.broker_url = services.redis_url()
    app.conf.task_default_queue = celery_worker.queue
    _reset_producers()
    try:
        assert export_jobs_requeue(older_than=timedelta(0)) == 1
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.status == ExportJob.Status.DONE:
                break
            time.sleep(0.5)
    finally:
        app.conf.task_default_queue = "celery"
    assert job.status == ExportJob.Status.DONE and job.file
