"""An export job run by a real Celery worker on Redis against the test PostgreSQL
database: the job row ends done with its file in place, and a second run is a no-op."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

import pytest

from complications.models import ExportJob
from complications.tasks import export_run
from tests import factories as f
from tests.conftest import api_client_for
from tests.factories import PARIS

# Real commits (the worker is another process); the roles' groups, made by a
# data migration, are restored after the flush of the previous such test.
pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def media(monkeypatch, settings, tmp_path) -> Path:
    """One MEDIA_ROOT for this process and the worker (which reads it from its
    environment): requested before ``celery_worker`` so the worker inherits it."""
    monkeypatch.setenv("MEDIA_ROOT", str(tmp_path))
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_the_worker_writes_the_file_and_marks_the_job_done(media, celery_worker, head, department):
    for day in (6, 7):
        procedure = f.procedure(
            f.patient(department), started_at=datetime(2020, 1, day, 9, tzinfo=PARIS)
        )
        f.fracture(procedure)
        f.complication(procedure, window="delayed", grade=3)
    job = ExportJob.objects.create(owner=head, format="csv", kind="cases")
    job.departments.set([department])

    assert celery_worker(export_run, job.pk) == {"id": job.pk, "status": "done", "progress": 100}

    job.refresh_from_db()
    assert (job.status, job.progress, job.error) == ("done", 100, "")
    path = media / job.file.name
    assert path.is_file() and path.parent == media / "exports"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert [r["delayed_max_grade"] for r in rows] == ["3", "3"]

    download = api_client_for(head).get(f"/api/v1/exports/{job.pk}/download/")
    assert b"".join(download.streaming_content) == path.read_bytes()

    stamp = path.stat().st_mtime_ns
    assert celery_worker(export_run, job.pk)["status"] == "done"
    assert path.stat().st_mtime_ns == stamp


def test_the_worker_fails_a_job_whose_owner_may_no_longer_export(
    media, celery_worker, radiologist, department
):
    job = ExportJob.objects.create(owner=radiologist, format="fhir")
    job.departments.set([department])
    assert celery_worker(export_run, job.pk)["status"] == "failed"
    job.refresh_from_db()
    assert (job.status, job.file.name) == ("failed", "")
    assert not (media / "exports").exists() or not any((media / "exports").iterdir())
