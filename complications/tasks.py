"""Celery tasks of the complication domain: take ids, fetch, call a service."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.db import OperationalError

from complications.exports import (
    export_job_claim,
    export_job_fail,
    export_job_write,
    export_jobs_sweep,
)
from complications.models import ExportJob
from complications.services import complications_regrade


@shared_task(acks_late=True, autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def regrade_all() -> dict[str, int]:
    """Re-grade every complication after the catalogue changed; idempotent."""
    return complications_regrade()


class _ExportTask(Task):
    """Marks the job failed once the retries are spent (if the attempt still owns it)."""

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:  # type: ignore[no-untyped-def]
        job_id = args[0] if args else kwargs["job_id"]
        export_job_fail(
            job_id=job_id, error=f"{type(exc).__name__}: {exc}", attempt=kwargs.get("resume")
        )


@shared_task(bind=True, base=_ExportTask, acks_late=True, max_retries=5)
def export_run(self: Task, job_id: int, resume: int | None = None) -> dict[str, Any]:
    """Claim an export job and write its file; idempotent, a done job is left alone.

    Only a database that cannot be reached (``OperationalError``) is retried,
    with exponential backoff (up to 5 minutes, jittered), by the same attempt
    (``resume``); any other error fails the job at once (the service records
    it), since running the same export again would fail again. A message for a
    job another worker is running (a duplicate) does nothing. A worker that
    vanishes mid-job is the sweep's business (``export_sweep``).
    """
    attempt = resume
    try:
        attempt = export_job_claim(job_id=job_id, resume=resume)
        job = (
            export_job_write(job_id=job_id, attempt=attempt)
            if attempt is not None
            else ExportJob.objects.get(pk=job_id)
        )
    except ExportJob.DoesNotExist:  # deleted with its owner before it ran: nothing to do
        return {"id": job_id, "status": "deleted", "progress": 0}
    except OperationalError as exc:
        countdown = get_exponential_backoff_interval(
            factor=1, retries=self.request.retries, maximum=300, full_jitter=True
        )
        raise self.retry(
            exc=exc, kwargs={"job_id": job_id, "resume": attempt}, countdown=countdown
        ) from exc
    return {"id": job.pk, "status": job.status, "progress": job.progress}


@shared_task(acks_late=True)
def export_sweep() -> dict[str, int]:
    """Beat, every minute: re-queue or fail the export jobs whose worker vanished, send
    the ones that never reached a worker, delete dead attempts' temporary files."""
    return export_jobs_sweep()


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=60, max_retries=3)
def quality_check_all() -> int:
    """Check every department's quality targets (``CELERY_BEAT_SCHEDULE``); idempotent.

    Returns the number of alerts raised. Retried on mail-server errors: an
    alert whose e-mail failed was not recorded, so the retry raises it again.
    """
    from complications.quality import quality_check_all as check

    return check()


class _ImportTask(Task):
    """Marks the import failed once the retries are spent."""

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:  # type: ignore[no-untyped-def]
        from complications.imports.jobs import import_job_fail

        job_id = args[0] if args else kwargs["job_id"]
        import_job_fail(job_id=job_id, error=f"{type(exc).__name__}: {exc}")


@shared_task(
    base=_ImportTask,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
)
def import_run(job_id: int) -> dict[str, Any]:
    """Run an import job (its dry run or its commit); a job not queued is left alone."""
    from complications.imports.jobs import import_job_run
    from complications.models import ImportJob

    try:
        job = import_job_run(job_id=job_id)
    except ImportJob.DoesNotExist:
        return {"id": job_id, "status": "deleted"}
    return {"id": job.pk, "status": job.status, "errors": len(job.errors)}
