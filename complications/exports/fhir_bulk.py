"""FHIR Bulk Data export: NDJSON, one file per resource type, as a background job.

The job machinery writes one file per job (under a temporary name, moved into
place when whole), so the per-type NDJSON files are packed into it: a first
line, the index (``{"Patient": [offset, length, count], ...}``, offsets counted
from the end of that line), then each type's lines one after the other. Each
type is first written to a temporary file of its own next to the job's, so
memory stays flat whatever the size; the file URLs of the manifest serve one
type's byte range each (``complications/api/fhir_bulk.py``).

The kick-off's ``_type`` and ``_since`` are stored on the job (``filters``
under ``FHIR_OPTIONS``) and read back by ``for_job``. ``_since`` keeps the
cases that changed at or after the instant: a procedure is exported whole (its
patient, fractures, contacts and complications) when it, its patient, one of
its fractures or contacts (their history) or one of its complications changed
since then. Deletions are not conveyed (Bulk Data has no way to say them).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from complications.exports.base import Exporter, Tick, register
from complications.exports.fhir import RESOURCE_TYPES, FhirIds, dumps, fhir_count, fhir_resources
from complications.exports.jobs import export_job_create
from complications.exports.selection import Selection
from complications.models import ComplicationEvent, ExportJob
from registry.models import FollowUp, Fracture

FHIR_OPTIONS = "_fhir_bulk"
CONTENT_TYPE = "application/fhir+ndjson"


@dataclass(frozen=True)
class BulkSelection(Selection):
    """A selection limited to the cases changed since an instant (``_since``)."""

    since: datetime | None = None

    def fractures(self) -> QuerySet[Fracture]:
        fractures = super().fractures()
        if self.since is None:
            return fractures
        since = self.since
        procedure = OuterRef("procedure_id")
        changed = (
            Q(procedure__updated_at__gte=since)
            | Q(procedure__patient__updated_at__gte=since)
            | Exists(Fracture.history.filter(procedure_id=procedure, history_date__gte=since))
            | Exists(FollowUp.history.filter(procedure_id=procedure, history_date__gte=since))
            | Exists(
                ComplicationEvent.history.filter(procedure_id=procedure, history_date__gte=since)
            )
        )
        return fractures.filter(changed)


def bulk_export_create(
    *,
    owner: Any,
    filters: Mapping[str, Any] | None = None,
    types: Collection[str] | None = None,
    since: datetime | None = None,
    request: str = "",
) -> ExportJob:
    """A Bulk Data export job: the export job service's, with the kick-off's options."""
    options = {
        "types": list(types) if types else None,
        "since": since.isoformat() if since else None,
        "request": request,
    }
    with transaction.atomic():  # the task is queued when this commits, options stored
        job = export_job_create(owner=owner, format=ExportJob.Format.NDJSON, filters=filters)
        job.filters = {**job.filters, FHIR_OPTIONS: options}
        job.save(update_fields=["filters"])
    return job


def bulk_options(job: ExportJob) -> dict[str, Any]:
    return dict(job.filters.get(FHIR_OPTIONS) or {})


def read_index(handle: IO[bytes]) -> tuple[dict[str, tuple[int, int, int]], int]:
    """A packed file's index (type -> offset, length, count) and where its data start."""
    first = handle.readline()
    index = {name: (int(a), int(b), int(c)) for name, (a, b, c) in json.loads(first).items()}
    return index, len(first)


@register
class FhirBulkExporter(Exporter):
    identifier = ExportJob.Format.NDJSON
    extension = "ndjson"
    # The job's file is the packed one (an index line, then every type's lines): not
    # NDJSON of resources until the file URLs serve each type's part (CONTENT_TYPE).
    content_type = "application/octet-stream"
    name = "fhir-bulk"

    def __init__(
        self, selection: Selection, *, kind: str = "", types: Collection[str] | None = None
    ) -> None:
        super().__init__(selection, kind=kind)
        self.types = tuple(types) if types else RESOURCE_TYPES

    @classmethod
    def for_job(cls, job: Any, selection: Selection) -> Exporter:
        options = bulk_options(job)
        since = datetime.fromisoformat(options["since"]) if options.get("since") else None
        bulk = BulkSelection(
            **{f.name: getattr(selection, f.name) for f in dataclasses.fields(selection)},
            since=since,
        )
        return cls(bulk, types=options.get("types"))

    def count(self) -> int:
        return fhir_count(self.selection)

    def lines(self) -> Iterator[tuple[str, str]]:
        """(resource type, NDJSON line) for every resource, references relative."""
        ids = FhirIds(relative=True)
        for resource in fhir_resources(self.selection, ids, types=self.types):
            yield resource["resourceType"], dumps(resource) + "\n"

    def write(self, path: Path, *, tick: Tick | None = None) -> None:
        workdir = Path(tempfile.mkdtemp(dir=path.parent, prefix=".bulk-"))
        try:
            outputs: dict[str, IO[str]] = {}
            counts: dict[str, int] = {}
            for resource_type, line in self.lines():
                out = outputs.get(resource_type)
                if out is None:
                    out = outputs[resource_type] = open(
                        workdir / f"{resource_type}.ndjson", "w", encoding="utf-8", newline=""
                    )
                out.write(line)
                counts[resource_type] = counts.get(resource_type, 0) + 1
                if tick:
                    tick()
            for out in outputs.values():
                out.close()
            index: dict[str, tuple[int, int, int]] = {}
            offset = 0
            for resource_type in RESOURCE_TYPES:
                if resource_type in counts:
                    size = os.path.getsize(workdir / f"{resource_type}.ndjson")
                    index[resource_type] = (offset, size, counts[resource_type])
                    offset += size
            with open(path, "wb") as packed:
                packed.write(json.dumps(index).encode() + b"\n")
                for resource_type in index:
                    with open(workdir / f"{resource_type}.ndjson", "rb") as part:
                        shutil.copyfileobj(part, packed, 1 << 20)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def chunks(self, *, tick: Tick | None = None) -> Iterator[str]:
        """All types' lines in one stream (no per-type files: a download, not Bulk Data)."""
        for _type, line in self.lines():
            yield line
            if tick:
                tick()
