"""The background export jobs: one service runs any registered exporter.

``export_job_create`` records a job over its owner's departments of now and
queues ``complications.tasks.export_run`` after commit. A worker claims the job
(``export_job_claim``: one numbered attempt at a time, at most
``EXPORT_MAX_ATTEMPTS``), writes the file under a temporary ``.part`` name while
it keeps a heartbeat (``heartbeat_at``), moves it into place and marks the job
done in one update (``export_job_write``). ``export_jobs_sweep`` (a beat task)
re-queues a job whose worker stopped writing, fails it once its attempts are
spent, sends again what never reached a worker, and removes the temporary files
of attempts that died.

A job never stays "running" without a live worker: a heartbeat older than
``EXPORT_STALE_AFTER`` means the worker is gone, whatever the broker says.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import OperationalError, transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from complications.exports.base import exporter_class, refuse_unless_allowed
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
    refuse_unless_allowed(format, owner)
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
    """Queue the task, once, without waiting for a broker that is down.

    With a broker (``task_always_eager`` off) nothing runs here: whatever
    publishing raises (refused connection, timeout, anything else), the job stays
    "queued" and the request is answered at once; ``export_jobs_sweep`` sends it
    when the broker is back. No publish retry (``retry=False``): the request
    never waits longer than the broker's connect timeout.

    In the embedded (eager) mode the task has run right here, and only a
    database error it could not retry in-process gets this far (Celery re-raises
    an eager retry instead of running it again); failing the job keeps it from
    showing "running" forever and the request from becoming a 500.
    """
    from celery import current_app

    from complications.tasks import export_run  # the task module imports this one

    eager = current_app.conf.task_always_eager
    try:
        export_run.apply_async((job_id,), retry=False)
    except Exception as exc:  # noqa: BLE001 - whatever it is, the request is answered
        if not eager:
            logger.warning("export job %s stays queued until the broker is back: %s", job_id, exc)
            return
        cause = getattr(exc, "exc", None) or exc  # a Retry carries the error it retried
        logger.exception("export job %s could not run", job_id)
        export_job_fail(job_id=job_id, error=f"{type(cause).__name__}: {cause}")
        return
    if not eager:  # sent: the sweep leaves it to the broker for a while (EXPORT_RESEND_AFTER)
        _mark_sent([job_id])


def _mark_sent(job_ids: list[int]) -> None:
    ExportJob.objects.filter(pk__in=job_ids, status=ExportJob.Status.QUEUED).update(
        heartbeat_at=timezone.now()
    )


def _remove_parts(job_ids: list[int]) -> int:
    """Delete the temporary files of these jobs' attempts; returns how many.

    Only called where those attempts are over or superseded: a late writer whose
    file disappears finds, before moving it into place, that it no longer owns
    its job, and stops.
    """
    removed = 0
    for job_id, path in _part_files():
        if job_id in job_ids:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def export_jobs_sweep(
    *,
    stale_after: timedelta | None = None,
    requeue_after: timedelta | None = None,
    resend_after: timedelta | None = None,
    max_attempts: int | None = None,
) -> dict[str, int]:
    """What the beat runs every minute so that no export job hangs; safe to repeat.

    - a "running" job whose heartbeat is older than ``stale_after`` lost its
      worker (killed, out of memory, the machine gone): it is re-queued, or failed
      with a message once ``max_attempts`` attempts have started; its temporary
      files are deleted;
    - a "queued" job never sent, ``requeue_after`` after its creation (the broker
      was down), or re-queued just now, is sent; one sent ``resend_after`` ago
      and still waiting (its message lost with a Redis that lost its data, or a
      long backlog) is sent again: a message sent twice is harmless, the second
      finds the job taken, done or failed;
    - temporary files of jobs no longer running (an attempt killed before its
      clean-up) are deleted.

    Returns the counts. A broker still down makes sending raise: the jobs stay
    queued and the next run tries again.
    """
    from complications.tasks import export_run

    stale_after = stale_after or timedelta(seconds=settings.EXPORT_STALE_AFTER)
    requeue_after = requeue_after or timedelta(seconds=settings.EXPORT_REQUEUE_AFTER)
    resend_after = resend_after or timedelta(seconds=settings.EXPORT_RESEND_AFTER)
    max_attempts = max_attempts or settings.EXPORT_MAX_ATTEMPTS
    counts = {"requeued": 0, "failed": 0, "sent": 0, "parts_removed": 0}
    # Listed before the statuses are read: a file of an attempt that starts later is not in it.
    parts = _part_files()
    now = timezone.now()
    last_sign = Coalesce("heartbeat_at", "created_at")
    stale = ExportJob.objects.alias(last_sign=last_sign).filter(
        status=ExportJob.Status.RUNNING, last_sign__lt=now - stale_after
    )
    requeued: list[int] = []
    for job_id in stale.values_list("pk", flat=True):
        with transaction.atomic():
            job = stale.select_for_update().filter(pk=job_id).first()
            if job is None:  # it wrote meanwhile, or finished
                continue
            if job.attempts >= max_attempts:
                _fail_abandoned(job)
                counts["failed"] += 1
            else:
                job.status, job.progress, job.heartbeat_at = ExportJob.Status.QUEUED, 0, None
                job.save(update_fields=["status", "progress", "heartbeat_at"])
                counts["requeued"] += 1
                requeued.append(job_id)
        counts["parts_removed"] += _remove_parts([job_id])
        logger.warning(
            "export job %s: its worker stopped writing (attempt %s)", job_id, job.attempts
        )
    due = ExportJob.objects.filter(status=ExportJob.Status.QUEUED).filter(
        Q(heartbeat_at__isnull=True, created_at__lt=now - requeue_after)
        | Q(heartbeat_at__lt=now - resend_after)
    )
    for job_id in [*requeued, *due.exclude(pk__in=requeued).values_list("pk", flat=True)]:
        export_run.apply_async((job_id,), retry=False)  # a broker still down raises
        _mark_sent([job_id])
        counts["sent"] += 1
    running = set(
        ExportJob.objects.filter(
            pk__in=[job_id for job_id, _ in parts], status=ExportJob.Status.RUNNING
        ).values_list("pk", flat=True)
    )
    for job_id, path in parts:
        if job_id not in running and path.exists():
            path.unlink(missing_ok=True)
            counts["parts_removed"] += 1
    return counts


def _part_files() -> list[tuple[int, Path]]:
    """The temporary files of export attempts, with their job's id."""
    folder = Path(default_storage.path("exports"))
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob(".job-*.part"):
        number = path.name.split("-")[1]
        if number.isdigit():
            found.append((int(number), path))
    return found


def _fail_abandoned(job: ExportJob) -> None:
    job.status, job.progress, job.file = ExportJob.Status.FAILED, job.progress, ""
    # Stored in English, like every job error (the worker has no user's language).
    job.error = (
        f"The export stopped {job.attempts} times without finishing (its worker was lost, for "
        "example killed or out of memory); it will not be tried again. Ask for it again, with "
        "narrower filters if it is very large."
    )
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "progress", "file", "error", "finished_at"])


def export_filename(job: ExportJob) -> str:
    """The name a downloaded file gets: what, when, which job."""
    return exporter_class(job.format).file_name(job.kind, job.created_at, job.pk)


class _Superseded(Exception):
    """This attempt no longer owns its job (the sweep gave it up, or it was deleted)."""


class _Progress:
    """Counts rows; writes the percentage when it grows and the heartbeat at least
    every ``EXPORT_HEARTBEAT_EVERY`` seconds, each write its own short autocommit
    UPDATE, so pollers see it at once. An update that finds the job no longer this
    attempt's stops the attempt."""

    def __init__(self, job_id: int, attempt: int, total: int) -> None:
        self.job_id, self.attempt, self.total = job_id, attempt, max(total, 1)
        self.done, self.written = 0, 0
        self.every = settings.EXPORT_HEARTBEAT_EVERY
        self.beat = time.monotonic()

    def __call__(self) -> None:
        self.done += 1
        percent = min(99, self.done * 100 // self.total)
        now = time.monotonic()
        if percent > self.written or now - self.beat >= self.every:
            updated = _owned(self.job_id, self.attempt).update(
                progress=percent, heartbeat_at=timezone.now()
            )
            if not updated:
                raise _Superseded
            self.written, self.beat = percent, now


def _owned(job_id: int, attempt: int) -> Any:
    """The job, as long as this attempt is the one running it."""
    return ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.RUNNING, attempts=attempt)


def export_job_fail(*, job_id: int, error: str, attempt: int | None = None) -> None:
    """Mark a job failed, without a file; a done job stays done (a late duplicate
    failure must not hide a good file). With ``attempt``, only if that attempt
    still runs it (a superseded attempt must not fail its successor)."""
    jobs = _owned(job_id, attempt) if attempt is not None else ExportJob.objects.filter(pk=job_id)
    jobs.exclude(status=ExportJob.Status.DONE).update(
        status=ExportJob.Status.FAILED, error=error[:ERROR_MAX], file="", finished_at=timezone.now()
    )


def export_job_claim(*, job_id: int, resume: int | None = None) -> int | None:
    """Start an attempt at the job; returns its number, or None when there is nothing to do.

    Nothing to do: the job is done or failed, or another worker is running it
    (its heartbeat is recent: this message is a duplicate). ``resume`` is the
    attempt a task retries after a database error: it takes its own job back.
    A running job whose heartbeat is stale lost its worker and is taken over like
    a queued one. Each new attempt counts; past ``EXPORT_MAX_ATTEMPTS`` the job is
    failed instead. Deletes the temporary files earlier attempts left.
    """
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.EXPORT_STALE_AFTER)
    with transaction.atomic():
        job = ExportJob.objects.select_for_update().get(pk=job_id)
        if job.status in (ExportJob.Status.DONE, ExportJob.Status.FAILED):
            return None
        resuming = resume is not None and job.status == ExportJob.Status.RUNNING
        resuming = resuming and job.attempts == resume
        if job.status == ExportJob.Status.RUNNING and not resuming:
            if (job.heartbeat_at or job.created_at) >= stale_before:
                return None
        if not resuming and job.attempts >= settings.EXPORT_MAX_ATTEMPTS:
            _fail_abandoned(job)
            return None
        if not resuming:
            job.attempts += 1
        job.status, job.progress, job.heartbeat_at = ExportJob.Status.RUNNING, 0, now
        job.save(update_fields=["status", "progress", "heartbeat_at", "attempts"])
    _remove_parts([job_id])
    return job.attempts


def export_job_write(*, job_id: int, attempt: int) -> ExportJob:
    """Write the file of a claimed job (``export_job_claim``'s attempt).

    The file is written under a temporary name next to its final place and
    moved there atomically, and only then does the job become done with its
    file, in one UPDATE, under the job's row lock and only if this attempt still
    owns it: a download never sees a half-written file, and a superseded attempt
    never replaces its successor's. An ``OperationalError`` (database
    unavailable) propagates for the task to retry; any other error fails the job
    with its message and leaves no file.
    """
    job = ExportJob.objects.select_related("owner").get(pk=job_id)
    if not job.owner.is_active or not job.owner.has_perm(EXPORT_DATA):
        export_job_fail(
            job_id=job.pk,
            error="The owner of this export is no longer allowed to export.",
            attempt=attempt,
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
        exporter = exporter_type.for_job(job, selection)
        exporter.write(Path(temporary), tick=_Progress(job.pk, attempt, exporter.count()))
        with transaction.atomic():
            if not _owned(job.pk, attempt).select_for_update().exists():
                raise _Superseded
            os.replace(temporary, final)
            _owned(job.pk, attempt).update(
                status=ExportJob.Status.DONE,
                progress=100,
                file=name,
                error="",
                finished_at=timezone.now(),
            )
    except OperationalError:
        raise
    except _Superseded:
        logger.warning("export job %s: attempt %s was superseded and stops", job.pk, attempt)
    except Exception as exc:
        logger.exception("export job %s failed", job.pk)
        export_job_fail(job_id=job.pk, error=f"{type(exc).__name__}: {exc}", attempt=attempt)
    finally:
        Path(temporary).unlink(missing_ok=True)  # already gone once moved into place
    return ExportJob.objects.get(pk=job.pk)


def export_job_run(*, job_id: int) -> ExportJob:
    """Claim and write the job in one go (the embedded mode, tests, a shell);
    idempotent: a done, failed or running job is left alone."""
    attempt = export_job_claim(job_id=job_id)
    if attempt is not None:
        return export_job_write(job_id=job_id, attempt=attempt)
    return ExportJob.objects.get(pk=job_id)
