"""An import job run by a real Celery worker on Redis against the test PostgreSQL
database: the dry run validates and writes nothing, the commit writes, and a
second run of a finished job is a no-op."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files import File

from complications.imports import import_job_commit, import_job_create
from complications.models import ComplicationEvent, ImportJob
from complications.tasks import import_run
from registry.models import Patient
from tests.complications.imports.layout_files import cohort, workbook

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def media(monkeypatch, settings, tmp_path) -> Path:
    """One MEDIA_ROOT for this process and the worker (requested before ``celery_worker``)."""
    monkeypatch.setenv("MEDIA_ROOT", str(tmp_path / "media"))
    settings.MEDIA_ROOT = tmp_path / "media"
    return tmp_path / "media"


def test_the_worker_runs_the_dry_run_then_the_commit(
    media, celery_worker, radiologist, department, tmp_path, monkeypatch
):
    # The job is queued by the test (not on commit, which would run it in-process).
    monkeypatch.setattr("complications.imports.jobs._enqueue", lambda job_id: None)
    path = workbook(tmp_path / "series.xlsx", cohort())
    with open(path, "rb") as handle:
        job = import_job_create(
            owner=radiologist, department=department, upload=File(handle, name=path.name)
        )

    assert celery_worker(import_run, job.pk) == {"id": job.pk, "status": "validated", "errors": 0}
    job.refresh_from_db()
    assert job.summary["fractures"]["create"] == 1
    assert not Patient.objects.exists()

    import_job_commit(job=job)
    assert celery_worker(import_run, job.pk)["status"] == "done"

    assert ComplicationEvent.objects.get().grade == 1
    assert celery_worker(import_run, job.pk)["status"] == "done"  # left alone
    assert ImportJob.objects.get(pk=job.pk).status == "done"
