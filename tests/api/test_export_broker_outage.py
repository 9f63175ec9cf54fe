"""With the broker down every export request behaves the same: it is answered at once, the
job is saved "queued" with no error, and it runs once the broker is back (the sweep sends it).

The broker and the result backend are the production shape's one Redis (docker-compose.yml
names both), here a port where nothing listens: a real refused connection.
"""

import time
from datetime import timedelta

import pytest
from django.test import Client

from complications.exports import export_jobs_sweep
from complications.models import ExportJob
from registry.celery import app
from tests import factories
from tests.conftest import PASSWORD, api_client_for

DOWN = "redis://127.0.0.1:1/0"


def _reset_producers() -> None:
    """Make the next publish connect to the broker now configured (Celery caches its pools
    and its result backend)."""
    app._pool = None
    app.amqp._producer_pool = None
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)


@pytest.fixture
def broker_down():
    saved = (app.conf.broker_url, app.conf.result_backend, app.conf.task_always_eager)
    app.conf.broker_url, app.conf.task_always_eager = DOWN, False
    app.conf.result_backend = DOWN.replace("/0", "/1")
    _reset_producers()
    yield
    app.conf.broker_url, app.conf.result_backend, app.conf.task_always_eager = saved
    _reset_producers()


@pytest.fixture
def cases(department):
    factories.complication(
        factories.procedure(factories.patient(department)), window="early", grade=2
    )


def _through_the_api(head, run):
    with run(execute=True):
        response = api_client_for(head).post("/api/v1/exports/", {"format": "csv"}, format="json")
    assert response.status_code == 202, response.content


def _through_the_page(head, run):
    client = Client()
    assert client.login(username=head.username, password=PASSWORD)
    with run(execute=True):
        response = client.post("/exports/", {"format": "xlsx"})
    assert response.status_code == 302


@pytest.mark.django_db
def test_every_export_requested_while_the_broker_is_down_is_answered_and_stays_queued(
    head, cases, broker_down, django_capture_on_commit_callbacks
):
    """Five requests in a row, through both doors: none waits on a result backend, none is
    failed (on the earlier code about half held the request 19 s and failed the job)."""
    for request in (_through_the_api, _through_the_page) * 2 + (_through_the_api,):
        request(head, django_capture_on_commit_callbacks)
    jobs = ExportJob.objects.all()
    assert [(job.status, job.error, job.file.name) for job in jobs] == [("queued", "", "")] * 5


@pytest.mark.django_db
def test_the_sweep_with_the_broker_still_down_keeps_the_jobs_queued(
    head, cases, broker_down, django_capture_on_commit_callbacks
):
    _through_the_api(head, django_capture_on_commit_callbacks)
    with pytest.raises(Exception):  # noqa: B017 - kombu's OperationalError; the next beat retries
        export_jobs_sweep(requeue_after=timedelta(microseconds=1))
    assert ExportJob.objects.get().status == "queued"


@pytest.mark.redis
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_queued_export_runs_once_the_broker_is_back(
    celery_worker, head, cases, broker_down, django_capture_on_commit_callbacks
):
    _through_the_api(head, django_capture_on_commit_callbacks)
    job = ExportJob.objects.get()
    assert job.status == ExportJob.Status.QUEUED
    # The broker comes back: the beat sweep sends the job again, to the real worker.
    from tests import services

    app.conf.broker_url = services.redis_url()
    app.conf.task_default_queue = celery_worker.queue
    _reset_producers()
    try:
        assert export_jobs_sweep(requeue_after=timedelta(microseconds=1))["sent"] == 1
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.status == ExportJob.Status.DONE:
                break
            time.sleep(0.5)
    finally:
        app.conf.task_default_queue = "celery"
    assert job.status == ExportJob.Status.DONE and job.file
