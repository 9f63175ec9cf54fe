"""No export job hangs: attempts are numbered and hold a heartbeat; the sweep re-queues a job
whose worker went silent, fails it once its attempts are spent, sends what never reached a
worker and deletes dead attempts' temporary files. (In-process here: the sweep's send runs
the task at once; tests/faults/ kills a real worker.)"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from complications import exports
from complications.exports import jobs
from complications.exports.csv import CsvExporter
from complications.models import ExportJob
from tests import factories as f

STALE = timedelta(seconds=120)


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "exports").mkdir()
    return tmp_path


@pytest.fixture
def job(head, department) -> ExportJob:
    procedure = f.procedure(f.patient(department))
    f.fracture(procedure)
    f.complication(procedure, window="early", grade=2)
    job = ExportJob.objects.create(owner=head, format="csv", kind="cases")
    job.departments.set([department])
    return job


def _running(job: ExportJob, *, attempts: int, silent_for: timedelta, media: Path) -> Path:
    """The job as a worker left it when it vanished: running, a heartbeat, a .part file."""
    ExportJob.objects.filter(pk=job.pk).update(
        status="running", attempts=attempts, heartbeat_at=timezone.now() - silent_for, progress=40
    )
    part = media / "exports" / f".job-{job.pk}-abc123.part"
    part.write_text("fracture_id\n")
    return part


def _parts(media: Path) -> list[str]:
    return sorted(p.name for p in (media / "exports").glob("*.part"))


@pytest.mark.django_db
class TestSweep:
    @pytest.mark.parametrize(
        ("attempts", "silent_for", "after"),
        [
            (1, STALE + timedelta(seconds=1), ("done", 2)),  # re-queued, then run (eager)
            (2, STALE + timedelta(seconds=1), ("done", 3)),
            (3, STALE + timedelta(seconds=1), ("failed", 3)),  # attempts spent
            (1, STALE - timedelta(seconds=5), ("running", 1)),  # still alive: left alone
        ],
    )
    def test_a_running_job_is_handled_by_the_age_of_its_heartbeat(
        self, job, media, attempts, silent_for, after
    ):
        part = _running(job, attempts=attempts, silent_for=silent_for, media=media)
        exports.export_jobs_sweep(stale_after=STALE, max_attempts=3)
        job.refresh_from_db()
        assert (job.status, job.attempts) == after
        assert part.exists() == (after[0] == "running")
        if after[0] == "done":
            assert job.file and _parts(media) == []
        if after[0] == "failed":
            assert "stopped 3 times without finishing" in job.error and not job.file

    @pytest.mark.parametrize(
        ("created", "sent", "sent_now"),
        [
            (timedelta(seconds=61), None, True),  # never sent (broker down at creation)
            (timedelta(seconds=30), None, False),  # a moment ago: its request may be sending it
            (timedelta(hours=1), timedelta(seconds=30), False),  # sent: the broker has it
            (timedelta(hours=1), timedelta(seconds=601), True),  # sent long ago, still waiting
        ],
    )
    def test_a_queued_job_is_sent_when_it_never_was_or_long_ago(
        self, job, media, created, sent, sent_now
    ):
        now = timezone.now()
        ExportJob.objects.filter(pk=job.pk).update(
            created_at=now - created, heartbeat_at=now - sent if sent else None
        )
        counts = exports.export_jobs_sweep(
            requeue_after=timedelta(seconds=60), resend_after=timedelta(seconds=600)
        )
        job.refresh_from_db()
        assert (counts["sent"], job.status) == ((1, "done") if sent_now else (0, "queued"))

    def test_temporary_files_of_jobs_no_longer_running_are_deleted(self, job, head, media):
        done = ExportJob.objects.create(owner=head, format="fhir")
        live = ExportJob.objects.create(
            owner=head, format="fhir", status="running", attempts=1, heartbeat_at=timezone.now()
        )
        for name in (f".job-{done.pk}-x.part", f".job-{live.pk}-y.part", ".job-999999-z.part"):
            (media / "exports" / name).write_text("")
        ExportJob.objects.filter(pk=done.pk).update(status="failed")
        assert exports.export_jobs_sweep()["parts_removed"] == 2
        assert _parts(media) == [f".job-{live.pk}-y.part"]


@pytest.mark.django_db
class TestAttempts:
    def test_a_duplicate_message_for_a_job_running_elsewhere_does_nothing(self, job, media):
        _running(job, attempts=1, silent_for=timedelta(seconds=1), media=media)
        assert exports.export_job_claim(job_id=job.pk) is None
        job.refresh_from_db()
        assert (job.status, job.attempts) == ("running", 1)

    def test_a_retry_after_a_database_error_takes_its_own_attempt_back(self, job, media):
        part = _running(job, attempts=1, silent_for=timedelta(seconds=1), media=media)
        assert exports.export_job_claim(job_id=job.pk, resume=1) == 1
        assert not part.exists()  # the earlier try's file, deleted at the retry
        assert exports.export_job_claim(job_id=job.pk, resume=0) is None

    def test_a_message_for_a_job_whose_worker_vanished_starts_the_next_attempt(
        self, job, media, settings
    ):
        part = _running(
            job,
            attempts=1,
            silent_for=timedelta(seconds=settings.EXPORT_STALE_AFTER + 1),
            media=media,
        )
        assert exports.export_job_claim(job_id=job.pk) == 2
        assert not part.exists()

    def test_an_attempt_superseded_by_the_sweep_stops_without_touching_the_job(
        self, job, media, monkeypatch
    ):
        """It went silent (a very long query), the sweep gave the job to another attempt:
        when it wakes up it neither fails the job nor puts its file in place."""
        attempt = exports.export_job_claim(job_id=job.pk)
        real = CsvExporter.write

        def sweep_meanwhile(self, path, *, tick=None):
            ExportJob.objects.filter(pk=job.pk).update(status="queued", attempts=2)
            return real(self, path, tick=tick)

        monkeypatch.setattr(CsvExporter, "write", sweep_meanwhile)
        assert attempt == 1
        result = exports.export_job_write(job_id=job.pk, attempt=attempt)
        assert (result.status, result.error, result.file.name) == ("queued", "", "")
        assert list((media / "exports").iterdir()) == []

    def test_the_heartbeat_is_written_while_the_file_is_written(self, job, media, settings):
        settings.EXPORT_HEARTBEAT_EVERY = 0
        before = timezone.now()
        progress = jobs._Progress(job.pk, 1, 1000)
        ExportJob.objects.filter(pk=job.pk).update(status="running", attempts=1)
        progress()
        job.refresh_from_db()
        assert job.heartbeat_at >= before and job.progress == 0


@pytest.mark.django_db
def test_the_exports_page_says_what_happens_to_a_job_whose_worker_stopped(head, settings):
    from django.test import Client

    from tests.conftest import PASSWORD

    settings.EXPORT_STALE_AFTER, settings.EXPORT_MAX_ATTEMPTS = 120, 3
    ExportJob.objects.create(owner=head, format="fhir", status="queued", attempts=2)
    client = Client()
    assert client.login(username=head.username, password=PASSWORD)
    html = " ".join(client.get("/exports/").content.decode().split())
    assert "started again by itself within about 3 minutes, up to 3 attempts in all" in html
    assert "stays queued and starts by itself once the queue is back" in html
    assert "(attempt 2 of 3)" in html
