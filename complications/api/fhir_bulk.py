"""FHIR Bulk Data export (the $export operation of the Bulk Data Access IG).

- ``GET /api/v1/fhir/$export`` kicks a background export job off: 202 with
  ``Content-Location``, the job's status URL. ``_type`` (resource types,
  comma-separated), ``_since`` (an instant) and ``_outputFormat`` (NDJSON only)
  are supported, with the cohort filters of the other exports.
- The status URL answers 202 with ``X-Progress`` while the job runs, 200 with
  the manifest once done (``transactionTime``, ``request``,
  ``requiresAccessToken``, ``output`` [{type, url, count}], ``error``), 500 with
  an OperationOutcome when it failed.
- Each output URL serves one resource type's NDJSON.

Thin views over ``complications.exports.fhir_bulk``; the permissions are those
of the other exports (``registry.export_data``; birth dates and registry ids
only with ``registry.export_identifiers``); a job is its owner's alone (404 for
anyone else, and for an owner who has left a department it covered).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from complications.api.exports import ExportView, _OwnJobs, covers_only_visible
from complications.api.stats import CohortQuerySerializer
from complications.exports.fhir import RESOURCE_TYPES
from complications.exports.fhir_bulk import (
    CONTENT_TYPE,
    bulk_export_create,
    bulk_options,
    read_index,
)
from complications.models import ExportJob
from registry.scoping import visible_departments

OUTPUT_FORMATS = ("application/fhir+ndjson", "application/ndjson", "ndjson")


class BulkKickoffQuerySerializer(CohortQuerySerializer):
    """The cohort filters, and the Bulk Data parameters (names with a leading underscore)."""

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["_type"] = serializers.CharField(
            required=False,
            help_text=_("Resource types, comma-separated (default: all of %(types)s).")
            % {"types": ", ".join(RESOURCE_TYPES)},
        )
        fields["_since"] = serializers.DateTimeField(
            required=False,
            help_text=_("Only the cases changed at or after this instant (ISO 8601)."),
        )
        fields["_outputFormat"] = serializers.ChoiceField(
            choices=OUTPUT_FORMATS, required=False, help_text=_("NDJSON, the only format.")
        )
        return fields


_ERRORS = {
    401: OpenApiResponse(description="Not authenticated."),
    403: OpenApiResponse(description="Not allowed to export (needs registry.export_data)."),
}


class BulkExportKickoffView(ExportView):
    @extend_schema(
        operation_id="fhir_bulk_export",
        summary="FHIR Bulk Data $export: start an NDJSON export",
        description=(
            "Starts a background export of the selection as NDJSON, one file per resource "
            "type (docs/fhir/README.md). Answers 202 with `Content-Location`: poll that status "
            "URL until it answers 200 with the manifest."
        ),
        parameters=[BulkKickoffQuerySerializer],
        responses={
            202: OpenApiResponse(description="Accepted; the status URL in Content-Location."),
            400: OpenApiResponse(description="A parameter is invalid: {field: [message, ...]}."),
            **_ERRORS,
            404: OpenApiResponse(description="The department does not exist or is not yours."),
        },
        tags=["exports"],
    )
    def get(self, request: Request) -> Response:
        query = BulkKickoffQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = dict(query.validated_data)
        since = filters.pop("_since", None)
        filters.pop("_outputFormat", None)
        types = None
        if raw_types := filters.pop("_type", None):
            types = [name.strip() for name in raw_types.split(",") if name.strip()]
            unknown = [name for name in types if name not in RESOURCE_TYPES]
            if unknown or not types:
                raise ValidationError(
                    {
                        "_type": [
                            _("Unknown resource type(s): %(unknown)s. Known: %(known)s.")
                            % {"unknown": ", ".join(unknown), "known": ", ".join(RESOURCE_TYPES)}
                        ]
                    }
                )
        department = filters.get("department")
        if (
            department is not None
            and not visible_departments(request.user).filter(pk=department).exists()
        ):
            raise NotFound(_("No such department."))
        job = bulk_export_create(
            owner=request.user,
            filters=filters,
            types=types,
            since=since,
            request=request.build_absolute_uri(),
        )
        location = request.build_absolute_uri(reverse("fhir-bulk-status", args=[job.pk]))
        return Response(status=status.HTTP_202_ACCEPTED, headers={"Content-Location": location})


def _own_bulk_job(view: _OwnJobs, request: Request, pk: int) -> ExportJob:
    job = view.get_queryset().filter(pk=pk, format=ExportJob.Format.NDJSON).first()
    if job is None or not covers_only_visible(job, request.user):
        raise NotFound(_("No such export."))
    return job


class BulkExportStatusView(_OwnJobs, ExportView):
    @extend_schema(
        operation_id="fhir_bulk_export_status",
        summary="FHIR Bulk Data $export: status, then the manifest",
        responses={
            200: inline_serializer(
                "FhirBulkManifest",
                {
                    "transactionTime": serializers.DateTimeField(),
                    "request": serializers.CharField(),
                    "requiresAccessToken": serializers.BooleanField(),
                    "output": serializers.ListField(child=serializers.DictField()),
                    "error": serializers.ListField(child=serializers.DictField()),
                },
            ),
            202: OpenApiResponse(description="Still running; X-Progress tells how far."),
            **_ERRORS,
            404: OpenApiResponse(description="No such Bulk Data export of yours."),
            500: OpenApiResponse(description="The export failed: an OperationOutcome."),
        },
        tags=["exports"],
    )
    def get(self, request: Request, pk: int) -> Response:
        job = _own_bulk_job(self, request, pk)
        headers = {"Cache-Control": "no-store"}
        if job.status in (ExportJob.Status.QUEUED, ExportJob.Status.RUNNING):
            headers |= {"X-Progress": f"{job.progress}% ({job.status})", "Retry-After": "2"}
            return Response(status=status.HTTP_202_ACCEPTED, headers=headers)
        if job.status == ExportJob.Status.FAILED:
            outcome = {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "error", "code": "exception", "diagnostics": job.error}],
            }
            return Response(outcome, status=status.HTTP_500_INTERNAL_SERVER_ERROR, headers=headers)
        with job.file.open("rb") as handle:
            index, _start = read_index(handle)
        options = bulk_options(job)
        output = [
            {
                "type": resource_type,
                "url": request.build_absolute_uri(
                    reverse("fhir-bulk-file", args=[job.pk, resource_type])
                ),
                "count": count,
            }
            for resource_type, (_offset, _length, count) in index.items()
        ]
        manifest = {
            "transactionTime": job.created_at.isoformat(),
            "request": options.get("request") or request.build_absolute_uri(),
            "requiresAccessToken": True,
            "output": output,
            "error": [],
        }
        return Response(manifest, headers=headers)


def _byte_range(handle: IO[bytes], length: int, size: int = 1 << 16) -> Iterator[bytes]:
    try:
        while length > 0:
            block = handle.read(min(size, length))
            if not block:
                return
            length -= len(block)
            yield block
    finally:
        handle.close()


class BulkExportFileView(_OwnJobs, ExportView):
    @extend_schema(
        operation_id="fhir_bulk_export_file",
        summary="FHIR Bulk Data $export: one resource type's NDJSON file",
        responses={
            (200, CONTENT_TYPE): OpenApiTypes.STR,
            **_ERRORS,
            404: OpenApiResponse(description="No such file of a done export of yours."),
        },
        tags=["exports"],
    )
    def get(self, request: Request, pk: int, resource_type: str) -> Any:
        job = _own_bulk_job(self, request, pk)
        if job.status != ExportJob.Status.DONE:
            raise NotFound(_("No such export."))
        handle = job.file.open("rb")
        index, start = read_index(handle)
        if resource_type not in index:
            handle.close()
            raise NotFound(_("No such export."))
        offset, length, _count = index[resource_type]
        handle.seek(start + offset)
        response = StreamingHttpResponse(_byte_range(handle, length), content_type=CONTENT_TYPE)
        response["Content-Length"] = str(length)
        response["Cache-Control"] = "no-store"
        return response
