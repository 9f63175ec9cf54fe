"""The import pages: upload a file, read the dry run's row-by-row report (or
download it as CSV), commit. Thin views over ``complications.imports``; who
may import is who may create clinical records in the department, and another
department's import is a 404.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from complications import imports
from complications.api.imports import jobs_for
from complications.models import ImportJob, ImportMapping
from registry.models import Department

JOBS_SHOWN = 20
ERRORS_SHOWN = 1000


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("File"), help_text=_("An XLSX workbook or a ZIP of CSV files (see the template).")
    )
    department = forms.ModelChoiceField(label=_("Department"), queryset=Department.objects.none())
    saved_mapping = forms.ModelChoiceField(
        label=_("Saved column mapping"),
        queryset=ImportMapping.objects.none(),
        required=False,
        empty_label=_("none (the import layout)"),
    )
    mapping_file = forms.FileField(
        label=_("Column mapping file (JSON or YAML)"),
        required=False,
        help_text=_("For a spreadsheet of your own shape (one row per fracture, ...)."),
    )
    save_mapping_as = forms.CharField(
        label=_("Save this mapping as"), required=False, max_length=100
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ids = [d.pk for d in imports.importable_departments(user)]
        department_field = self.fields["department"]
        mapping_field = self.fields["saved_mapping"]
        assert isinstance(department_field, forms.ModelChoiceField)
        assert isinstance(mapping_field, forms.ModelChoiceField)
        department_field.queryset = Department.objects.filter(pk__in=ids)
        mapping_field.queryset = ImportMapping.objects.filter(department__in=ids)
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-control form-control-sm"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        department, saved = cleaned.get("department"), cleaned.get("saved_mapping")
        mapping: dict[str, Any] = {}
        if cleaned.get("mapping_file"):
            try:
                mapping = imports.parse_mapping(cleaned["mapping_file"].read())
            except ValidationError as exc:
                self.add_error("mapping_file", exc.messages)
        elif saved is not None:
            if department is not None and saved.department_id != department.pk:
                self.add_error("saved_mapping", _("This mapping is another department's."))
            mapping = saved.mapping
        if cleaned.get("save_mapping_as") and not cleaned.get("mapping_file"):
            self.add_error("save_mapping_as", _("Upload a mapping file to save it."))
        cleaned["mapping"] = mapping
        return cleaned


@login_required
@require_http_methods(["GET", "POST"])
def imports_page(request: HttpRequest) -> HttpResponse:
    if not imports.importable_departments(request.user):
        raise PermissionDenied
    form = ImportUploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if data.get("save_mapping_as"):
            imports.import_mapping_save(
                department=data["department"], name=data["save_mapping_as"], mapping=data["mapping"]
            )
        job = imports.import_job_create(
            owner=request.user,
            department=data["department"],
            upload=data["file"],
            file_name=data["file"].name,
            mapping=data["mapping"],
            dry_run=True,
            language=getattr(request, "LANGUAGE_CODE", ""),
        )
        return redirect("import-detail", pk=job.pk)
    jobs = jobs_for(request.user).select_related("department", "owner")[:JOBS_SHOWN]
    return render(request, "complications/imports.html", {"form": form, "jobs": jobs})


def _job(request: HttpRequest, pk: int) -> ImportJob:
    job = jobs_for(request.user).select_related("department", "owner").filter(pk=pk).first()
    if job is None:
        raise Http404
    return job


@login_required
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    running = job.status in (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING)
    context = {
        "job": job,
        "running": running,
        "progress": imports.import_progress(job),
        "errors": job.errors[:ERRORS_SHOWN],
        "more_errors": max(len(job.errors) - ERRORS_SHOWN, 0),
        "can_commit": job.status == ImportJob.Status.VALIDATED and not job.errors and job.dry_run,
    }
    return render(request, "complications/import_detail.html", context)


@login_required
def import_report(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    if not job.report:
        raise Http404
    with job.report.open("rb") as handle:
        response = HttpResponse(handle.read(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-report.csv"'
    return response


@login_required
@require_POST
def import_commit(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    try:
        imports.import_job_commit(job=job)
    except imports.ImportConflict as exc:
        messages.error(request, str(exc))
    return redirect("import-detail", pk=job.pk)


@login_required
def import_template(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(
        imports.template_workbook(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = 'attachment; filename="pigsf-import-template.xlsx"'
    return response
