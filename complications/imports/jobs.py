"""Import jobs: a dry run of an uploaded file, then its commit, in the background.

``import_job_create`` stores the file and queues ``complications.tasks.import_run``
after commit; ``import_job_run`` runs the importer (a dry run, or the commit)
and records the summary, every error and the row-by-row report (a CSV file).
``import_job_commit`` turns a validated dry run without errors into a commit.

The import runs inside one transaction, so its progress cannot be an UPDATE
of the job (nobody would see it before the end): it is kept in the cache,
which the job's readers consult while it runs (``import_progress``).
"""

from __future__ import annotations

import csv
import logging
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import OperationalError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from complications.imports import mapping as mappings
from complications.imports.parse import FileError, open_tables
from complications.imports.plan import Report, run_import
from complications.models import ImportJob
from registry.models import Department
from registry.roles import CLINICAL_MODELS
from registry.scoping import visible_departments

logger = logging.getLogger(__name__)

REPORT_HEADER = ["sheet", "row", "action", "key", "column", "value", "message"]


class ImportConflict(Exception):
    """The job cannot be committed (errors, not a validated dry run)."""


def may_import(user: Any, department: Department) -> bool:
    """Who may import into a department: who may create its clinical records there."""
    if not getattr(user, "is_authenticated", False):
        return False
    perms = [f"{app}.add_{model}" for app, models in CLINICAL_MODELS.items() for model in models]
    return user.has_perms(perms) and visible_departments(user).filter(pk=department.pk).exists()


def importable_departments(user: Any) -> list[Department]:
    return [d for d in visible_departments(user) if may_import(user, d)]


def import_reason(job_id: int | None, file_name: str) -> str:
    """The audit trail's why of every record an import changes."""
    which = f"#{job_id} " if job_id is not None else ""
    return _("Import %(which)s(%(file)s)") % {"which": which, "file": file_name}


class ReportWriter:
    """The row-by-row report as CSV: one line per row, one per error."""

    def __init__(self, out: Any) -> None:
        self.writer = csv.writer(out)
        self.writer.writerow(REPORT_HEADER)

    def __call__(
        self, sheet: str, number: int, action: str, key: str, errors: list[dict[str, Any]]
    ) -> None:
        if not errors:
            self.writer.writerow([sheet, number, action, key, "", "", ""])
        for error in errors:
            self.writer.writerow(
                [
                    error["sheet"],
                    error["row"],
                    action,
                    key,
                    error["column"],
                    error["value"],
                    error["message"],
                ]
            )


class Progress:
    def __init__(self, key: str, total: int) -> None:
        self.key, self.total, self.done, self.written = key, max(total, 1), 0, -1

    def __call__(self) -> None:
        self.done += 1
        percent = min(99, self.done * 100 // self.total)
        if percent > self.written:
            cache.set(self.key, percent, timeout=24 * 3600)
            self.written = percent


def _progress_key(job_id: int) -> str:
    return f"import-progress-{job_id}"


def import_progress(job: ImportJob) -> int:
    if job.status == ImportJob.Status.RUNNING:
        return int(cache.get(_progress_key(job.pk), job.progress))
    return job.progress


def import_file(
    *,
    department: Department,
    path: Path,
    mapping: Mapping[str, Any] | None = None,
    commit: bool,
    reason: str,
    actor: Any = None,
    progress_key: str | None = None,
    tick: Callable[[], None] | None = None,
    report_out: Any = None,
) -> Report:
    """Import one file (the command and the job both call this). ``progress_key``:
    where the percentage is kept (a job's); ``tick``: called once per row."""
    try:
        tables = open_tables(path)
    except FileError as exc:
        report = Report()
        report.error("", 0, "", path.name, str(exc))
        return report
    try:
        source = mappings.source_for(tables, mapping or {}, time_zone=department.time_zone)
        if progress_key:
            tick = Progress(progress_key, source.count())
        return run_import(
            department=department,
            source=source,
            commit=commit,
            reason=reason,
            actor=actor,
            tick=tick,
            on_row=ReportWriter(report_out) if report_out is not None else None,
        )
    finally:
        tables.close()


def import_job_create(
    *,
    owner: Any,
    department: Department,
    upload: Any,
    file_name: str = "",
    mapping: Mapping[str, Any] | None = None,
    dry_run: bool = True,
    language: str = "",
) -> ImportJob:
    """Record a job with its file and queue it after commit. The caller has
    checked ``may_import`` (another department is a 404 at the entry point)."""
    with transaction.atomic():
        job = ImportJob(
            owner=owner,
            department=department,
            file_name=(file_name or getattr(upload, "name", "") or "import")[:255],
            mapping=mappings.check_mapping(mapping or {}),
            dry_run=dry_run,
            language=language or translation.get_language() or "",
        )
        job.file.save(Path(job.file_name).name or "import", upload, save=False)
        job.save()
        transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def import_job_commit(*, job: ImportJob) -> ImportJob:
    """Commit a validated dry run without errors (``ImportConflict`` otherwise)."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        if job.status != ImportJob.Status.VALIDATED or job.errors or not job.dry_run:
            raise ImportConflict(
                _("Only a dry run that validated without errors can be committed.")
            )
        job.dry_run, job.status, job.progress = False, ImportJob.Status.QUEUED, 0
        job.save(update_fields=["dry_run", "status", "progress"])
        transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _enqueue(job_id: int) -> None:
    from complications.tasks import import_run  # the task module imports this one

    try:
        import_run.delay(job_id)
    except Exception as exc:  # noqa: BLE001 - eager mode: whatever it is, the job is over
        logger.exception("import job %s could not run", job_id)
        import_job_fail(job_id=job_id, error=f"{type(exc).__name__}: {exc}")


def import_job_fail(*, job_id: int, error: str) -> None:
    ImportJob.objects.filter(pk=job_id).exclude(status=ImportJob.Status.DONE).update(
        status=ImportJob.Status.FAILED,
        errors=[{"sheet": "", "row": 0, "column": "", "value": "", "message": error[:2000]}],
        finished_at=timezone.now(),
    )


def import_job_run(*, job_id: int) -> ImportJob:
    """Run a queued job: its dry run, or its commit. Idempotent: a job that is
    not queued is left alone."""
    with transaction.atomic():
        job = (
            ImportJob.objects.select_for_update()
            .select_related("department", "owner")
            .get(pk=job_id)
        )
        if job.status != ImportJob.Status.QUEUED:
            return job
        job.status, job.progress = ImportJob.Status.RUNNING, 0
        job.save(update_fields=["status", "progress"])
    if not job.owner.is_active or not may_import(job.owner, job.department):
        import_job_fail(job_id=job.pk, error="The owner of this import may no longer import.")
        return ImportJob.objects.get(pk=job.pk)
    key = _progress_key(job.pk)
    cache.set(key, 0, timeout=24 * 3600)
    with tempfile.TemporaryDirectory() as scratch:
        report_path = Path(scratch) / "report.csv"
        try:
            with (
                translation.override(job.language or None),
                job.file.open("rb") as upload,
                open(report_path, "w", encoding="utf-8", newline="") as report_out,
            ):
                local = Path(scratch) / "upload"
                with open(local, "wb") as copy:
                    for chunk in upload.chunks():
                        copy.write(chunk)
                report = import_file(
                    department=job.department,
                    path=local,
                    mapping=job.mapping,
                    commit=not job.dry_run,
                    reason=import_reason(job.pk, job.file_name),
                    actor=job.owner,
                    progress_key=key,
                    report_out=report_out,
                )
        except OperationalError:
            raise
        except (ValidationError, OSError) as exc:
            import_job_fail(job_id=job.pk, error=f"{type(exc).__name__}: {exc}")
            return ImportJob.objects.get(pk=job.pk)
        if report.errors:
            status = ImportJob.Status.VALIDATED if job.dry_run else ImportJob.Status.FAILED
        else:
            status = ImportJob.Status.VALIDATED if job.dry_run else ImportJob.Status.DONE
        if job.report:
            job.report.delete(save=False)
        with open(report_path, "rb") as handle:
            job.report.save(f"import-{job.pk}-report.csv", File(handle), save=False)
    ImportJob.objects.filter(pk=job.pk).update(
        status=status,
        progress=100,
        summary=report.summary,
        errors=report.errors,
        report=job.report.name,
        finished_at=timezone.now(),
    )
    cache.delete(key)
    if status == ImportJob.Status.DONE:
        # Its records are in the registry now: the uploaded copy (registry ids, dates) goes.
        job.file.delete(save=False)
        ImportJob.objects.filter(pk=job.pk).update(file="")
    return ImportJob.objects.get(pk=job.pk)


def import_mapping_save(*, department: Department, name: str, mapping: Mapping[str, Any]) -> Any:
    """Save (or replace) a department's named column mapping."""
    from complications.models import ImportMapping

    name = name.strip()
    if not name:
        raise ValidationError({"name": [_("Give the mapping a name.")]})
    saved, _created = ImportMapping.objects.update_or_create(
        department=department, name=name, defaults={"mapping": mappings.check_mapping(mapping)}
    )
    return saved
