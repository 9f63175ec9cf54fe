"""Import endpoints (api-contract-additions.md, "Imports").

- ``POST /api/v1/imports/`` (multipart: ``file``, ``department``, ``dry_run``
  default true, optional ``mapping`` (JSON text) or ``saved_mapping`` (a name
  saved for the department)): 202 ``{"id", "url", "status"}``;
- ``GET /api/v1/imports/{id}/``: status, progress, summary and every error;
- ``POST /api/v1/imports/{id}/commit/``: 202 on a validated dry run without
  errors, 409 otherwise;
- ``GET /api/v1/imports/template.xlsx``: the template.

Who may import is who may create clinical records in the department; a
department (or an import of a department) the user cannot see is a 404.
Thin views over ``complications.imports``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import HttpResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from complications import imports
from complications.models import ImportJob, ImportMapping
from registry.api.schema import RegistryAutoSchema
from registry.idempotency import idempotent
from registry.models import Department
from registry.scoping import scope_to_user, visible_departments


def department_for(user: Any, value: str) -> Department:
    """The department named by code (or id) that ``user`` may import into:
    404 if they cannot see it, 403 if they may not create its records."""
    departments = visible_departments(user)
    found = departments.filter(code=value).first()
    if found is None and str(value).isdigit():
        found = departments.filter(pk=int(value)).first()
    if found is None:
        raise NotFound(_("No such department."))
    if not imports.may_import(user, found):
        raise PermissionDenied(_("You may not create records in this department."))
    return found


def jobs_for(user: Any) -> QuerySet[ImportJob]:
    """The imports a user may see: those of the departments they may import into."""
    allowed = [d.pk for d in imports.importable_departments(user)]
    return scope_to_user(ImportJob.objects.all(), user).filter(department__in=allowed)


class ImportCreateSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=_("An XLSX workbook or a ZIP of CSV files."))
    department = serializers.CharField(help_text=_("The department's code (or id)."))
    dry_run = serializers.BooleanField(default=True)
    mapping = serializers.CharField(
        required=False, allow_blank=True, help_text=_("A column mapping (JSON).")
    )
    saved_mapping = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text=_("The name of a mapping saved for the department."),
    )


class ImportJobSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    report_url = serializers.SerializerMethodField()
    department = serializers.CharField(source="department.code", read_only=True)

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "url",
            "department",
            "file_name",
            "status",
            "dry_run",
            "progress",
            "summary",
            "errors",
            "report_url",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_url(self, job: ImportJob) -> str:
        return self.context["request"].build_absolute_uri(
            reverse("import-job-detail", args=[job.pk])
        )

    def get_progress(self, job: ImportJob) -> int:
        return imports.import_progress(job)

    def get_report_url(self, job: ImportJob) -> str | None:
        if not job.report:
            return None
        return self.context["request"].build_absolute_uri(reverse("import-report", args=[job.pk]))


def _accepted(request: Request, job: ImportJob) -> Response:
    job.refresh_from_db()  # in the embedded (eager) mode the task has already run
    data = ImportJobSerializer(job, context={"request": request}).data
    return Response(data, status=status.HTTP_202_ACCEPTED, headers={"Location": data["url"]})


@extend_schema(tags=["imports"])
class ImportCreateView(APIView):
    schema = RegistryAutoSchema()
    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="imports_create",
        summary="Upload a file to import (a dry run by default)",
        request={"multipart/form-data": ImportCreateSerializer},
        responses={
            202: ImportJobSerializer,
            400: OpenApiResponse(description="No file, or an invalid mapping."),
            403: OpenApiResponse(description="May not create records in the department."),
            404: OpenApiResponse(description="No such department (or not yours)."),
        },
    )
    @idempotent
    def post(self, request: Request) -> Response:
        form = ImportCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        department = department_for(request.user, data["department"])
        mapping: Any = {}
        try:
            if data.get("mapping"):
                mapping = imports.parse_mapping(data["mapping"])
            elif data.get("saved_mapping"):
                saved = ImportMapping.objects.filter(
                    department=department, name=data["saved_mapping"]
                ).first()
                if saved is None:
                    raise serializers.ValidationError(
                        {"saved_mapping": [_("No mapping of this name for the department.")]}
                    )
                mapping = saved.mapping
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        job = imports.import_job_create(
            owner=request.user,
            department=department,
            upload=data["file"],
            file_name=data["file"].name,
            mapping=mapping,
            dry_run=data["dry_run"],
            language=getattr(request, "LANGUAGE_CODE", ""),
        )
        return _accepted(request, job)


@extend_schema(tags=["imports"])
class ImportDetailView(generics.RetrieveAPIView):
    schema = RegistryAutoSchema()
    permission_classes = [IsAuthenticated]
    serializer_class = ImportJobSerializer

    def get_queryset(self) -> QuerySet[ImportJob]:
        return jobs_for(self.request.user).select_related("department")

    @extend_schema(
        operation_id="imports_retrieve", summary="An import: status, progress, summary, errors"
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        response["Cache-Control"] = "no-cache"
        return response


@extend_schema(tags=["imports"])
class ImportCommitView(APIView):
    schema = RegistryAutoSchema()
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="imports_commit",
        summary="Commit a validated dry run",
        request=None,
        responses={
            202: ImportJobSerializer,
            404: OpenApiResponse(description="No such import (or not yours)."),
            409: OpenApiResponse(description="The dry run had errors, or is not validated."),
        },
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        job = jobs_for(request.user).filter(pk=pk).first()
        if job is None:
            raise NotFound(_("No such import."))
        try:
            job = imports.import_job_commit(job=job)
        except imports.ImportConflict as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return _accepted(request, job)


@extend_schema(tags=["imports"])
class ImportReportView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="imports_report",
        summary="The row-by-row report of an import (CSV)",
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            401: OpenApiResponse(description="Not authenticated."),
            404: OpenApiResponse(description="No such import, or its report is not written yet."),
        },
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        job = jobs_for(request.user).filter(pk=pk).first()
        if job is None or not job.report:
            raise NotFound(_("No such report."))
        with job.report.open("rb") as handle:
            response = HttpResponse(handle.read(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-report.csv"'
        return response


@extend_schema(tags=["imports"])
class ImportTemplateView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="imports_template",
        summary="The import template (XLSX)",
        responses={
            (
                200,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ): OpenApiTypes.BINARY
        },
    )
    def get(self, request: Request) -> HttpResponse:
        response = HttpResponse(
            imports.template_workbook(),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = 'attachment; filename="pigsf-import-template.xlsx"'
        return response
