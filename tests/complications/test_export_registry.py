"""The exporter registry: each format of the jobs once, looked up in one place, which
refuses a format it does not know; on PostgreSQL the CSV downloads get its variant."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import connection

from complications import exports
from complications.exports.csv import CsvExporter
from complications.exports.sql_csv import SqlCsvExporter
from complications.models import ExportJob
from tests.factories import PARIS


def test_the_registry_lists_each_format_of_the_jobs_once():
    assert sorted(exports.formats()) == sorted(ExportJob.Format.values)


def test_a_second_exporter_for_a_registered_format_is_refused():
    class Again(CsvExporter):
        vendor = None

    with pytest.raises(ImproperlyConfigured):
        exports.register(Again)
    assert exports.exporter_class("csv") in (CsvExporter, SqlCsvExporter)


@pytest.mark.parametrize("format", ["pdf", "", "CSV", "json"])
def test_it_refuses_a_format_it_does_not_know(format):
    with pytest.raises(ValidationError) as refused:
        exports.exporter_class(format)
    assert list(refused.value.message_dict) == ["format"]


@pytest.mark.django_db
def test_it_refuses_a_job_of_an_unknown_format_before_recording_it(head):
    with pytest.raises(ValidationError):
        exports.export_job_create(owner=head, format="pdf")
    assert not ExportJob.objects.exists()


def test_the_csv_downloads_are_formatted_by_the_database_only_on_postgresql():
    expected = SqlCsvExporter if connection.vendor == "postgresql" else CsvExporter
    assert exports.exporter_class("csv") is expected


@pytest.mark.parametrize(
    ("format", "kind", "content_type", "stream_name", "job_name"),
    [
        (
            "csv",
            "cases",
            "text/csv; charset=utf-8",
            "pigsf-cases-20240301.csv",
            "pigsf-cases-20240229-7.csv",
        ),
        (
            "csv",
            "complications",
            "text/csv; charset=utf-8",
            "pigsf-complications-20240301.csv",
            "pigsf-complications-20240229-7.csv",
        ),
        (
            "xlsx",
            "",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "pigsf-cases-and-complications-20240301.xlsx",
            "pigsf-cases-and-complications-20240229-7.xlsx",
        ),
        (
            "dta",
            "cases",
            "application/x-stata-dta",
            "pigsf-cases-20240301.dta",
            "pigsf-cases-20240229-7.dta",
        ),
        (
            "sav",
            "complications",
            "application/x-spss-sav",
            "pigsf-complications-20240301.sav",
            "pigsf-complications-20240229-7.sav",
        ),
        (
            "fhir",
            "",
            "application/fhir+json",
            "pigsf-bundle-20240301.json",
            "pigsf-bundle-20240229-7.json",
        ),
        (
            "import",
            "",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "pigsf-import-layout-20240301.xlsx",
            "pigsf-import-layout-20240229-7.xlsx",
        ),
    ],
)
def test_each_exporter_names_its_files_and_their_content_type(
    format, kind, content_type, stream_name, job_name
):
    exporter = exports.exporter_class(format)
    assert exporter.content_type == content_type
    assert exporter.file_name(kind, date(2024, 3, 1)) == stream_name
    job = ExportJob(pk=7, format=format, kind=kind)
    job.created_at = datetime(2024, 2, 29, 23, 30, tzinfo=PARIS)
    assert exports.export_filename(job) == job_name
