"""Export endpoints: streamed CSV tables, the FHIR R4 Bundle, background export jobs.

Thin views over ``complications.exports``. Every endpoint needs the
``registry.export_data`` permission (403 without it: the radiologist role lacks
it by design); the filters are those of the statistics, validated the same way
(a bad value is a 400 naming the field; a department the user cannot see is a
404 in a query string, as for the statistics, and a 400 on the job's
``filters`` field in a request body). A job is its owner's alone: anyone
else gets a 404, as for a record of another department.

Errors are always JSON: content negotiation is skipped, since the files have
their own content type and a client asking for ``text/csv`` must still be
able to read why it got a 400.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import FileResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from complications import exports
from complications.api.stats import CohortQuerySerializer, query_filters
from complications.exports.base import refuse_unless_allowed
from complications.models import ExportJob
from complications.stats.selection import department_visible
from registry.api.schema import RegistryAutoSchema
from registry.idempotency import idempotent
from registry.scoping import visible_departments


class CanExport(BasePermission):
    message = _("You are not allowed to export data.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.has_perm(exports.EXPORT_DATA))


class JsonErrors(BaseContentNegotiation):
    """Always the first renderer (JSON), whatever the Accept header."""

    def select_parser(self, request: Request, parsers: list[Any]) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(
        self, request: Request, renderers: list[Any], format_suffix: Any = None
    ) -> Any:
        return renderers[0], renderers[0].media_type


class ExportView(APIView):
    permission_classes = [IsAuthenticated, CanExport]
    content_negotiation_class = JsonErrors


OPTIONS_REFUSED = _("The analysis options apply to the tables (CSV, XLSX, Stata, SPSS) only.")


class ExportOptionsSerializer(serializers.Serializer):
    """The analysis and de-identification options of the tables (all off by default;
    ``complications.exports.options``)."""

    labels = serializers.BooleanField(
        required=False, default=False, help_text=_("Add a <column>_label column beside each code.")
    )
    flatten_facts = serializers.BooleanField(
        required=False,
        default=False,
        help_text=_("One fact_<name> column per recorded fact instead of the facts JSON."),
    )
    dates = serializers.ChoiceField(
        choices=exports.options.DATES,
        required=False,
        default="exact",
        help_text=_(
            "exact; shifted (each patient's dates moved by a secret offset, intervals kept); "
            "year (the year only). Shifted and year drop the registry id."
        ),
    )
    operators = serializers.ChoiceField(
        choices=exports.options.OPERATORS,
        required=False,
        default="names",
        help_text=_("names, or pseudonyms (OP-xxxxxxxx, stable); pseudonyms drop the registry id."),
    )
    dialect = serializers.ChoiceField(
        choices=exports.options.DIALECTS,
        required=False,
        default="standard",
        help_text=_("CSV: standard, or excel_eu (semicolons, UTF-8 with BOM, decimal commas)."),
    )
    real_dates = serializers.BooleanField(
        required=False,
        default=False,
        help_text=_("XLSX: dates and datetimes as typed cells in local time."),
    )

    def to_options(self, language: str) -> exports.ExportOptions:
        return exports.ExportOptions(**self.validated_data, language=language)


def _selection(request: Request, *, with_options: bool = False) -> exports.Selection:
    options = None
    if with_options:
        chosen = ExportOptionsSerializer(data=request.query_params)
        chosen.is_valid(raise_exception=True)
        options = chosen.to_options(get_language() or "")
    return exports.Selection.for_user(request.user, query_filters(request), options=options)


def _attachment(response: StreamingHttpResponse, filename: str) -> StreamingHttpResponse:
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


_ERRORS = {
    400: OpenApiResponse(description="A filter is invalid: {field: [message, ...]}."),
    401: OpenApiResponse(description="Not authenticated."),
    403: OpenApiResponse(description="Not allowed to export (needs registry.export_data)."),
    404: OpenApiResponse(description="The department does not exist or is not yours."),
}


class _StreamView(ExportView):
    """A streamed download of one exporter (``format``, and ``kind`` for a table)."""

    format: str
    kind = ""
    with_options = False  # the tables' analysis options

    def get(self, request: Request) -> StreamingHttpResponse:
        selection = _selection(request, with_options=self.with_options)
        exporter = exports.exporter_for(self.format, selection, kind=self.kind)
        response = StreamingHttpResponse(exporter.stream(), content_type=exporter.content_type)
        return _attachment(response, exporter.stream_name())


class _TableCsvView(_StreamView):
    format = ExportJob.Format.CSV
    with_options = True


def _table_schema(kind: str, summary: str, columns: list[str]) -> Any:
    return extend_schema_view(
        get=extend_schema(
            operation_id=f"export_{kind}_csv",
            summary=summary,
            description=(
                "Streamed CSV, one header row, de-identified by default: the age at the "
                "procedure instead of a birth date; `registry_id` only for holders of "
                "registry.export_identifiers. Booleans are `true`/`false`, lists are joined by "
                "`;`, datetimes are ISO 8601 with the department's offset. Columns: "
                + ", ".join(f"`{c}`" for c in columns)
                + ". The options (all off by default) add label columns, flatten the facts, "
                "shift or truncate dates, pseudonymise operators or write the European Excel "
                "dialect; every column is described in the codebook (/exports/codebook/)."
            ),
            parameters=[CohortQuerySerializer, ExportOptionsSerializer],
            responses={(200, "text/csv"): OpenApiTypes.STR, **_ERRORS},
            tags=["exports"],
        )
    )


@_table_schema(
    "complications", "Complications, one row per event (CSV)", exports.COMPLICATION_COLUMNS
)
class ComplicationsCsvView(_TableCsvView):
    kind = ExportJob.Kind.COMPLICATIONS


@_table_schema("cases", "Cases, one row per fracture (CSV)", exports.CASE_COLUMNS)
class CasesCsvView(_TableCsvView):
    kind = ExportJob.Kind.CASES


@extend_schema_view(
    get=extend_schema(
        operation_id="export_fhir",
        summary="HL7 FHIR R4 Bundle (collection) of Patient, Procedure, Condition, AdverseEvent",
        description=(
            "One Patient per patient, one Procedure per procedure, one Condition per fracture, "
            "one AdverseEvent per complication (the CTCAE term as a MedDRA coding, the grade in "
            "the ae-grade extension and as severity, seriousness from the recorded facts), "
            "plus the department (Organization), follow-up contacts (Encounter) and cancer "
            "aetiologies (Condition), linked by urn:uuid references; valid FHIR R4 4.0.1 "
            "(docs/fhir/README.md). Streamed. Birth dates and registry ids only for holders "
            "of registry.export_identifiers. At most FHIR_BUNDLE_MAX_ENTRIES resources: "
            "beyond, 413 pointing to the Bulk Data export (GET /api/v1/fhir/$export)."
        ),
        parameters=[CohortQuerySerializer],
        responses={
            (200, "application/fhir+json"): OpenApiTypes.OBJECT,
            **_ERRORS,
            413: OpenApiResponse(
                description="Too many resources for one Bundle: use GET /api/v1/fhir/$export."
            ),
        },
        tags=["exports"],
    )
)
class FhirBundleView(_StreamView):
    format = ExportJob.Format.FHIR

    def get(self, request: Request) -> StreamingHttpResponse:  # type: ignore[override]
        selection = _selection(request)
        exporter = exports.exporter_for(self.format, selection)
        entries, cap = exporter.count(), settings.FHIR_BUNDLE_MAX_ENTRIES
        if entries > cap:
            message = _(
                "This selection holds %(entries)s FHIR resources, more than the %(cap)s one "
                "Bundle may hold. Narrow the filters, or use the FHIR Bulk Data export: "
                "GET /api/v1/fhir/$export (NDJSON files per resource type)."
            ) % {"entries": entries, "cap": cap}
            return Response(  # type: ignore[return-value]
                {"detail": message}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
            )
        response = StreamingHttpResponse(exporter.stream(), content_type=exporter.content_type)
        return _attachment(response, exporter.stream_name())


# --- background jobs ------------------------------------------------------------------


class ExportFiltersSerializer(CohortQuerySerializer):
    def validate_department(self, value: int) -> int:
        if not department_visible(self.context["request"].user, value):
            raise serializers.ValidationError(_("No such department."))
        return value


class ExportJobSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(
        help_text=_("This job: poll it for status and progress.")
    )
    download_url = serializers.SerializerMethodField(
        help_text=_(
            "Where to download the file once the job is done; null until then, and once "
            "you no longer belong to a department it covered."
        )
    )
    filters = ExportFiltersSerializer(required=False, default=dict)
    kind = serializers.ChoiceField(
        choices=ExportJob.Kind.choices,
        required=False,
        allow_blank=True,
        help_text=_("CSV only: which table (default complications). XLSX holds both."),
    )
    options = ExportOptionsSerializer(required=False, default=dict)

    class Meta:
        model = ExportJob
        fields = [
            "id",
            "url",
            "format",
            "kind",
            "filters",
            "options",
            "status",
            "progress",
            "error",
            "download_url",
            "created_at",
            "finished_at",
        ]
        read_only_fields = ["status", "progress", "error", "created_at", "finished_at"]

    def get_url(self, job: ExportJob) -> str:
        return self.context["request"].build_absolute_uri(
            reverse("export-job-detail", args=[job.pk])
        )

    def get_download_url(self, job: ExportJob) -> str | None:
        request = self.context["request"]
        if job.status != ExportJob.Status.DONE or not covers_only_visible(job, request.user):
            return None
        return self.context["request"].build_absolute_uri(
            reverse("export-job-download", args=[job.pk])
        )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("kind") and not exports.exporter_class(attrs["format"]).kinds:
            raise serializers.ValidationError({"kind": [_("Only a CSV export has a kind.")]})
        try:
            refuse_unless_allowed(attrs["format"], self.context["request"].user)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        options = exports.ExportOptions(**(attrs.get("options") or {}))
        if not options.is_default() and not exports.exporter_class(attrs["format"]).takes_options:
            raise serializers.ValidationError({"options": [OPTIONS_REFUSED]})
        return attrs

    def create(self, validated_data: dict[str, Any]) -> ExportJob:
        return exports.export_job_create(
            owner=self.context["request"].user,
            format=validated_data["format"],
            kind=validated_data.get("kind") or "",
            filters=validated_data.get("filters") or {},
            options=exports.ExportOptions(
                **(validated_data.get("options") or {}), language=get_language() or ""
            ),
        )


def covers_only_visible(job: ExportJob, user: Any) -> bool:
    """A job's file holds every department it covered: its owner may take it only while
    they still see all of them (a member who has left one no longer may)."""
    return not job.departments.exclude(pk__in=visible_departments(user).values("pk")).exists()


class _OwnJobs:
    request: Request
    queryset = ExportJob.objects.none()  # the model, for the schema; the rows come from below

    def get_queryset(self) -> QuerySet[ExportJob]:
        return ExportJob.objects.filter(owner=self.request.user)


@extend_schema(tags=["exports"])
class ExportJobListCreateView(_OwnJobs, generics.ListCreateAPIView):
    serializer_class = ExportJobSerializer
    schema = RegistryAutoSchema()  # documents its 401, 403, 404 answers
    permission_classes = [IsAuthenticated, CanExport]

    @extend_schema(operation_id="exports_list", summary="Your export jobs, newest first")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="exports_create",
        summary="Start a background export",
        description=(
            "Returns 202 with the job and its URL (also in `Location`). Poll the job until "
            "`status` is `done`, then download from `download_url`. The job covers the "
            "departments you can see now."
        ),
        responses={
            202: ExportJobSerializer,
            400: OpenApiResponse(description="Invalid format, kind or filters."),
            401: OpenApiResponse(description="Not authenticated."),
            403: OpenApiResponse(description="Not allowed to export (needs registry.export_data)."),
        },
    )
    @idempotent
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = serializer.save()
        # In the embedded (eager) mode the task has already run: report what it left.
        job.refresh_from_db()
        data = self.get_serializer(job).data
        return Response(data, status=status.HTTP_202_ACCEPTED, headers={"Location": data["url"]})


@extend_schema(tags=["exports"])
class ExportJobDetailView(_OwnJobs, generics.RetrieveAPIView):
    serializer_class = ExportJobSerializer
    schema = RegistryAutoSchema()  # documents its 401, 403, 404 answers
    permission_classes = [IsAuthenticated, CanExport]

    @extend_schema(
        operation_id="exports_retrieve", summary="An export job: status, progress, download URL"
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        digest = hashlib.sha256(repr(sorted(response.data.items())).encode()).hexdigest()
        response["ETag"] = f'"{digest[:32]}"'
        response["Cache-Control"] = "no-cache"
        return response


class ExportJobDownloadView(_OwnJobs, ExportView):
    @extend_schema(
        operation_id="exports_download",
        summary="Download a done export job's file",
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            401: OpenApiResponse(description="Not authenticated."),
            403: OpenApiResponse(description="Not allowed to export (needs registry.export_data)."),
            404: OpenApiResponse(
                description="No such job of yours, or it covers a department you left."
            ),
            409: OpenApiResponse(description="The job is not done (yet)."),
        },
        tags=["exports"],
    )
    def get(self, request: Request, pk: int) -> FileResponse | Response:
        job = self.get_queryset().filter(pk=pk).first()
        if job is None or not covers_only_visible(job, request.user):
            raise NotFound(_("No such export."))
        if job.status != ExportJob.Status.DONE:
            return Response(
                {
                    "detail": _("This export is not ready (status: %(status)s).")
                    % {"status": job.status}
                },
                status=status.HTTP_409_CONFLICT,
            )
        response = FileResponse(
            job.file.open("rb"),
            as_attachment=True,
            filename=exports.export_filename(job),
            content_type=exports.exporter_class(job.format).content_type,
        )
        response["Cache-Control"] = "no-store"
        return response
