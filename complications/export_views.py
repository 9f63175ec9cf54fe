"""The exports page.

``/exports/``: start a background export with the dashboard's filters and
watch its progress (``static/js/exports.js`` polls the job's API URL every
second). A thin view: the services in ``complications.exports`` do the work.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from complications import exports
from complications.models import ExportJob
from complications.views import StatsFilterForm

JOBS_SHOWN = 50


class ExportStartForm(forms.Form):
    # The FHIR Bulk Data export is an API (GET /api/v1/fhir/$export): its job file
    # packs the per-type NDJSON files that only the API's file URLs unpack.
    format = forms.ChoiceField(
        label=_("Format"),
        choices=[c for c in ExportJob.Format.choices if c[0] != ExportJob.Format.NDJSON],
    )
    kind = forms.ChoiceField(
        label=_("Table (CSV)"),
        choices=ExportJob.Kind.choices,
        initial=ExportJob.Kind.COMPLICATIONS,
        required=False,
        help_text=_("An XLSX export holds both tables; a FHIR export holds every resource."),
    )
    # The analysis and de-identification options (complications.exports.options).
    labels = forms.BooleanField(label=_("Labels beside codes"), required=False)
    flatten_facts = forms.BooleanField(label=_("Facts in columns"), required=False)
    dates = forms.ChoiceField(
        label=_("Dates"),
        required=False,
        initial="exact",
        choices=[
            ("exact", _("Exact")),
            ("shifted", _("Shifted per patient (intervals kept)")),
            ("year", _("Year only")),
        ],
    )
    operators = forms.ChoiceField(
        label=_("Operators"),
        required=False,
        initial="names",
        choices=[("names", _("Names")), ("pseudonyms", _("Pseudonyms"))],
    )
    dialect = forms.ChoiceField(
        label=_("CSV dialect"),
        required=False,
        initial="standard",
        choices=[
            ("standard", _("Standard (comma)")),
            ("excel_eu", _("European Excel (semicolon, BOM, decimal comma)")),
        ],
    )
    real_dates = forms.BooleanField(label=_("Real dates in XLSX"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            boolean = isinstance(field, forms.BooleanField)
            field.widget.attrs["class"] = (
                "form-check-input" if boolean else "form-select form-select-sm"
            )

    def options(self) -> exports.ExportOptions:
        data = self.cleaned_data
        return exports.ExportOptions(
            labels=data.get("labels", False),
            flatten_facts=data.get("flatten_facts", False),
            dates=data.get("dates") or "exact",
            operators=data.get("operators") or "names",
            dialect=data.get("dialect") or "standard",
            real_dates=data.get("real_dates", False),
            language=get_language() or "",
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        format = cleaned.get("format")
        if format is None or not exports.exporter_class(format).kinds:
            cleaned["kind"] = ""
        if (
            format is not None
            and not exports.exporter_class(format).takes_options
            and not self.options().is_default()
        ):
            raise forms.ValidationError(
                _("The analysis options apply to the tables (CSV, XLSX, Stata, SPSS) only.")
            )
        return cleaned


def _job_rows(jobs: list[ExportJob]) -> list[dict[str, Any]]:
    """What the page and its script need of each job."""
    return [
        {
            "job": job,
            "api_url": reverse("export-job-detail", args=[job.pk]),
            "download_url": reverse("export-job-download", args=[job.pk]),
            "finished": job.status in (ExportJob.Status.DONE, ExportJob.Status.FAILED),
        }
        for job in jobs
    ]


@require_http_methods(["GET", "POST"])
def exports_page(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(exports.EXPORT_DATA):
        raise PermissionDenied
    data = request.POST if request.method == "POST" else None
    start_form = ExportStartForm(data)
    # GET: the filters come prefilled from the query string (a dashboard link).
    filter_form = StatsFilterForm(data if data is not None else request.GET, user=request.user)
    if request.method == "POST" and start_form.is_valid() and filter_form.is_valid():
        try:
            job = exports.export_job_create(
                owner=request.user,
                format=start_form.cleaned_data["format"],
                kind=start_form.cleaned_data["kind"],
                filters=filter_form.filters(),
                options=start_form.options(),
            )
        except ValidationError as exc:  # a format this user may not export
            start_form.add_error("format", exc.message_dict.get("format", exc.messages))
        else:
            messages.success(request, _("Export #%(id)s started.") % {"id": job.pk})
            return redirect("exports")
    jobs = list(ExportJob.objects.filter(owner=request.user)[:JOBS_SHOWN])
    context = {
        "start_form": start_form,
        "filter_form": filter_form,
        "forms": (start_form, filter_form),
        "jobs": _job_rows(jobs),
        # What the sweep does with a job whose worker vanished (complications.exports.jobs).
        "recovery": {
            "minutes": -(-(settings.EXPORT_STALE_AFTER + 60) // 60),
            "attempts": settings.EXPORT_MAX_ATTEMPTS,
        },
        "exports_config": {
            "pollMs": 1000,
            "labels": {str(value): str(label) for value, label in ExportJob.Status.choices}
            | {"download": str(_("Download")), "offline": str(_("Cannot reach the server."))},
        },
    }
    return render(request, "complications/exports.html", context)


# --- the codebook: every exported column, for the users who may export ---------------


def _may_export(request: HttpRequest) -> None:
    if not request.user.has_perm(exports.EXPORT_DATA):
        raise PermissionDenied


@require_http_methods(["GET"])
def codebook_page(request: HttpRequest) -> HttpResponse:
    _may_export(request)
    from complications.exports.codebook_documents import described

    return render(request, "complications/codebook.html", {"variables": described()})


@require_http_methods(["GET"])
def codebook_redcap(request: HttpRequest) -> HttpResponse:
    """The REDCap data dictionary, labels in the user's language."""
    _may_export(request)
    from complications.exports.codebook_documents import redcap_csv

    response = HttpResponse(
        redcap_csv(get_language() or "en"), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="pigsf-codebook-redcap.csv"'
    return response


@require_http_methods(["GET"])
def codebook_pdf(request: HttpRequest) -> HttpResponse:
    _may_export(request)
    from complications.exports.codebook_documents import codebook_pdf as pdf

    response = HttpResponse(pdf(), content_type="application/pdf")
    response["Content-Disposition"] = 'attachment; filename="pigsf-codebook.pdf"'
    return response
