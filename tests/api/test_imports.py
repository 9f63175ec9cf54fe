"""The import API (api-contract-additions.md, "Imports"): upload a dry run
(202), read its status, summary and errors, commit it (202, or 409 after
errors); departments one may not see are 404."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from complications.models import ComplicationEvent, ImportJob
from registry.models import Patient, Procedure
from tests.complications.imports.layout_files import cohort, workbook
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Uploaded files and reports go to a scratch MEDIA_ROOT."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _upload(client, path, department="A", **extra):
    file = SimpleUploadedFile(path.name, path.read_bytes(), content_type=XLSX)
    return client.post(
        "/api/v1/imports/", {"file": file, "department": department, **extra}, format="multipart"
    )


def test_a_dry_run_reports_then_its_commit_writes(
    radiologist, tmp_path, django_capture_on_commit_callbacks
):
    client = api_client_for(radiologist)
    path = workbook(tmp_path / "series.xlsx", cohort())

    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client, path)

    assert response.status_code == 202, response.content
    assert response["Location"] == response.json()["url"]
    job = client.get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert job["status"] == "validated"
    assert job["dry_run"] is True
    assert job["progress"] == 100
    assert job["errors"] == []
    assert job["summary"]["patients"] == {"create": 1, "update": 0, "unchanged": 0}
    assert job["summary"]["complications"] == {"create": 1, "update": 0, "unchanged": 0}
    assert not Patient.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        committed = client.post(f"/api/v1/imports/{job['id']}/commit/")

    assert committed.status_code == 202
    assert client.get(f"/api/v1/imports/{job['id']}/").json()["status"] == "done"
    assert not ImportJob.objects.get(pk=job["id"]).file  # the upload is deleted once imported
    event = ComplicationEvent.objects.get()
    assert (event.grade, event.window) == (1, "delayed")
    report = client.get(f"/api/v1/imports/{job['id']}/report.csv")
    assert report.status_code == 200
    assert b"complications,2,create" in report.content


def test_a_dry_run_with_errors_cannot_be_committed(
    radiologist, tmp_path, django_capture_on_commit_callbacks
):
    sheets = cohort()
    sheets["procedures"][0]["ended_at"] = "2020-03-04T08:00:00+01:00"
    sheets["complications"][0]["term"] = "Nonsense"
    client = api_client_for(radiologist)
    path = workbook(tmp_path / "series.xlsx", sheets)

    with django_capture_on_commit_callbacks(execute=True):
        job_id = _upload(client, path).json()["id"]
    job = client.get(f"/api/v1/imports/{job_id}/").json()

    assert job["status"] == "validated"
    assert {(e["sheet"], e["row"], e["column"]) for e in job["errors"]} == {
        ("procedures", 2, "ended_at"),
        ("complications", 2, "term"),
    }
    assert client.post(f"/api/v1/imports/{job_id}/commit/").status_code == 409
    assert not Procedure.objects.exists()


def test_a_commit_without_a_dry_run_writes_at_once(
    data_manager, tmp_path, django_capture_on_commit_callbacks
):
    path = workbook(tmp_path / "series.xlsx", cohort())

    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(api_client_for(data_manager), path, dry_run="false")

    assert ImportJob.objects.get(pk=response.json()["id"]).status == "done"
    assert Patient.objects.count() == 1


def test_another_department_is_not_found(
    outsider, radiologist, tmp_path, django_capture_on_commit_callbacks
):
    path = workbook(tmp_path / "series.xlsx", cohort())
    with django_capture_on_commit_callbacks(execute=True):
        job_id = _upload(api_client_for(radiologist), path).json()["id"]
    client = api_client_for(outsider)

    assert _upload(client, path, department="A").status_code == 404
    assert client.get(f"/api/v1/imports/{job_id}/").status_code == 404
    assert client.post(f"/api/v1/imports/{job_id}/commit/").status_code == 404
    assert client.get(f"/api/v1/imports/{job_id}/report.csv").status_code == 404


def test_who_may_not_create_records_may_not_import(head, tmp_path):
    path = workbook(tmp_path / "series.xlsx", cohort())

    assert _upload(api_client_for(head), path).status_code == 403
    assert not ImportJob.objects.exists()


def test_a_bad_mapping_is_a_400(radiologist, tmp_path):
    path = workbook(tmp_path / "series.xlsx", cohort())

    response = _upload(api_client_for(radiologist), path, mapping='{"colonnes": {}}')

    assert response.status_code == 400
    assert "mapping" in response.json()


def test_the_template_has_every_sheet_and_header(radiologist):
    from io import BytesIO

    from openpyxl import load_workbook

    from complications.imports import layout

    response = api_client_for(radiologist).get("/api/v1/imports/template.xlsx")

    book = load_workbook(BytesIO(response.content))
    assert book.sheetnames == [*(s.name for s in layout.SHEETS), "notes"]
    for sheet in layout.SHEETS:
        assert [c.value for c in book[sheet.name][1]] == list(sheet.names)


def test_the_import_layout_export_needs_the_identifiers_permission(
    data_manager, django_capture_on_commit_callbacks
):
    from django.contrib.auth.models import Permission

    client = api_client_for(data_manager)

    refused = client.post("/api/v1/exports/", {"format": "import"}, format="json")

    assert refused.status_code == 400
    assert "format" in refused.json()
    data_manager.user_permissions.add(Permission.objects.get(codename="export_identifiers"))
    client = api_client_for(type(data_manager).objects.get(pk=data_manager.pk))
    with django_capture_on_commit_callbacks(execute=True):
        accepted = client.post("/api/v1/exports/", {"format": "import"}, format="json")
    assert accepted.status_code == 202
    assert client.get(accepted["Location"]).json()["status"] == "done"


def test_an_import_file_may_be_larger_than_a_json_body(
    radiologist, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    path = workbook(tmp_path / "series.xlsx", cohort())
    assert path.stat().st_size > 1000

    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(api_client_for(radiologist), path)

    assert response.status_code == 202
    settings.UPLOAD_MAX_SIZES = {"/api/v1/imports/": 1000}
    assert _upload(api_client_for(radiologist), path).status_code == 413
