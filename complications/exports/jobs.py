"""The background export jobs: one service runs any registered exporter.

``export_job_create`` records a job over its owner's departments of now and
queues ``complications.tasks.export_run`` after commit; ``export_job_run``
looks the job's exporter up by its format, writes the file under a temporary
name, moves it into place and marks the job done in one update.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.db import OperationalError, transaction
from django.utils import timezone

from complications.exports.base import exporter_class
from complications.exports.selection import (
    EXPORT_DATA,
    ExportOptions,
    Selection,
    filters_from_json,
    filters_to_json,
)
from complications.models import ExportJob
from registry.scoping import visible_departments

logger = logging.getLogger(__name__)

ERROR_MAX = 2000


def export_job_create(
    *,
    owner: Any,
    format: str,
    kind: str = "",
    filters: Mapping[str, Any] | None = None,
    options: ExportOptions | None = None,
) -> ExportJob:
    """Record a job over the owner's departments of now and queue it after commit.

    ``filters`` are validated selector arguments. A job without a kind gets its
    format's default (a CSV job exports the complications).
    """
    kind = kind or exporter_class(format).default_kind
    with transaction.atomic():
        job = ExportJob.objects.create(
            owner=owner,
            format=format,
            kind=kind,
            filters=filters_to_json(filters or {}),
            options=(options or ExportOptions()).to_json(),
        )
        job.departments.set(visible_departments(owner))
        transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _enqueue(job_id: int) -> None:
    """Queue the task.

    With the broker down the job stays "queued": ``export_jobs_requeue`` (a beat
    task) sends it again once the broker is back, so the work is deferred, not
    lost. In the embedded (eager) mode the task has run right here, and only a
    database error it could not retry in-process gets this far (Celery re-raises
    an eager retry instead of running it again); failing the job keeps it from
    showing "running" forever and the request from becoming a 500.
    """
    from celery import current_app
    from kombu.exceptions import OperationalError as BrokerError

    from complications.tasks import export_run  # the task module imports this one

    try:
        export_run.delay(job_id)
    except (BrokerError, ConnectionError) as exc:
        if current_app.conf.task_always_eager:
            export_job_fail(job_id=job_id, error=f"{type(exc).__name__}: {exc}")
        else:
            logger.warning("export job %s stays queued until the broker is back: %s", job_id, exc)
    except Exception as exc:  # noqa: BLE001 - whatever it is, the job is over
        cause = getattr(exc, "exc", None) or exc  # a Retry carries the error it retried
        logger.exception("export job %s could not run", job_id)
        export_job_fail(job_id=job_id, error=f"{type(cause).__name__}: {cause}")


# A job still "queued" this long after it was created was never delivered (the
# broker was down when it was created): send it again.
REQUEUE_AFTER = timedelta(minutes=2)


def export_jobs_requeue(*, older_than: timedelta = REQUEUE_AFTER) -> int:
    """Send again the jobs that never reached a worker; returns how many were sent.

    Safe to repeat: a job that has already run is left alone by the task, so a
    message sent twice costs at most one redundant check.
    """
    from complications.tasks import export_run

    stale = ExportJob.objects.filter(
        status=ExportJob.Status.QUEUED, created_at__lt=timezone.now() - older_than
    ).values_list("pk", flat=True)
    sent = 0
    for job_id in stale:
        export_run.delay(job_id)  # a broker still down raises: the next beat tries again
        sent += 1
    return sent


def export_filename(job: ExportJob) -> str:
    """The name a downloaded file gets: what, when, which job."""
    return exporter_class(job.format).file_name(job.kind, job.created_at, job.pk)


class _Progress:
    """Counts rows and writes the percentage when it grows, each write its own
    short autocommit UPDATE (at most 99 of them), so pollers see it at once."""

    def __init__(self, job_id: int, total: int) -> None:
        self.job_id, self.total, self.done, self.written = job_id, max(total, 1), 0, 0

    def __call__(self) -> None:
        self.done += 1
        percent = min(99, self.done * 100 // self.total)
        if percent > self.written:
            ExportJob.objects.filter(pk=self.job_id, status=ExportJob.Status.RUNNING).update(
                progress=percent
            )
            self.written = percent


def export_job_fail(*, job_id: int, error: str) -> None:
    """Mark a job failed, without a file; a done job stays done (a late duplicate
    failure must not hide a good file)."""
    ExportJob.objects.filter(pk=job_id).exclude(status=ExportJob.Status.DONE).update(
        status=ExportJob.Status.FAILED, error=error[:ERROR_MAX], file="", finished_at=timezone.now()
    )


def export_job_run(*, job_id: int) -> ExportJob:
    """Write the job's file; idempotent (a done or failed job is left alone).

    The file is written under a temporary name next to its final place and
    moved there atomically, and only then does the job become done with its
    file, in one UPDATE: a download never sees a half-written file. An
    ``OperationalError`` (database unavailable) propagates for the task to
    retry; any other error fails the job with its message and leaves no file.
    """
    with transaction.atomic():
        job = ExportJob.objects.select_for_update().select_related("owner").get(pk=job_id)
        if job.status in (ExportJob.Status.DONE, ExportJob.Status.FAILED):
            return job
        job.status, job.progress = ExportJob.Status.RUNNING, 0
        job.save(update_fields=["status", "progress"])
    if not job.owner.is_active or not job.owner.has_perm(EXPORT_DATA):
        export_job_fail(
            job_id=job.pk, error="The owner of this export is no longer allowed to export."
        )
        return ExportJob.objects.get(pk=job.pk)

    exporter_type = exporter_class(job.format)
    name = f"exports/job-{job.pk}.{exporter_type.extension}"
    final = Path(job.file.storage.path(name))
    final.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=final.parent, prefix=f".job-{job.pk}-", suffix=".part")
    os.close(handle)
    # mkstemp makes it 0600; the storage's mode lets the web process (maybe
    # another user than the worker) read it.
    if (mode := getattr(job.file.storage, "file_permissions_mode", None)) is not None:
        os.chmod(temporary, mode)
    try:
        selection = Selection.for_user(
            job.owner,
            filters_from_json(job.filters),
            job.departments.values_list("pk", flat=True),
            ExportOptions.from_json(job.options),
        )
        exporter = exporter_type(selection, kind=job.kind)
        exporter.write(Path(temporary), tick=_Progress(job.pk, exporter.count()))
        os.replace(temporary, final)
    except OperationalError:
        raise
    except Exception as exc:
        logger.exception("export job %s failed", job.pk)
        export_job_fail(job_id=job.pk, error=f"{type(exc).__name__}: {exc}")
        return ExportJob.objects.get(pk=job.pk)
    finally:
        Path(temporary).unlink(missing_ok=True)  # already gone once moved into place
    ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.RUNNING).update(
        status=ExportJob.Status.DONE, progress=100, file=name, error="", finished_at=timezone.now()
    )
    return ExportJob.objects.get(pk=job.pk)
