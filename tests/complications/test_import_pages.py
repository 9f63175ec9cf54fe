"""The import pages: upload, read the dry run's report (and download it),
commit; the template; another department's import is a 404."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from complications.models import ImportJob, ImportMapping
from registry.models import Patient
from tests.complications.imports.layout_files import cohort, workbook

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Uploaded files and reports go to a scratch MEDIA_ROOT."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _post(client, department, path, headers=None, **extra):
    return client.post(
        "/imports/",
        headers=headers,
        data={
            "file": SimpleUploadedFile(path.name, path.read_bytes()),
            "department": department.pk,
            **extra,
        },
    )


def test_upload_dry_run_report_and_commit(
    client, radiologist, department, tmp_path, django_capture_on_commit_callbacks
):
    client.force_login(radiologist)
    path = workbook(tmp_path / "series.xlsx", cohort())

    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, department, path)

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/imports/{job.pk}/"
    page = client.get(f"/imports/{job.pk}/")
    assert page.status_code == 200
    assert b'id="import-summary"' in page.content
    assert b"Commit the import" in page.content
    report = client.get(f"/imports/{job.pk}/report.csv")
    assert report.content.decode().splitlines()[0] == "sheet,row,action,key,column,value,message"
    assert not Patient.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/imports/{job.pk}/commit/")

    assert Patient.objects.count() == 1
    assert b"Imported." in client.get(f"/imports/{job.pk}/").content


def test_the_errors_are_listed_in_french(
    client, radiologist, department, tmp_path, django_capture_on_commit_callbacks
):
    sheets = cohort()
    sheets["patients"][0]["birth_date"] = "2990-01-01"
    client.force_login(radiologist)
    path = workbook(tmp_path / "series.xlsx", sheets)

    with django_capture_on_commit_callbacks(execute=True):
        _post(client, department, path, headers={"accept-language": "fr"})
    job = ImportJob.objects.get()
    page = client.get(f"/imports/{job.pk}/", HTTP_ACCEPT_LANGUAGE="fr")

    assert "La date de naissance est dans le futur." in page.content.decode()
    assert b"Commit the import" not in page.content


def test_a_mapping_file_is_saved_for_the_department(client, data_manager, department, tmp_path):
    client.force_login(data_manager)
    path = workbook(tmp_path / "series.xlsx", cohort())
    mapping = SimpleUploadedFile(
        "m.json", json.dumps({"rename": {"patients": {"N°": "registry_id"}}}).encode()
    )

    _post(client, department, path, mapping_file=mapping, save_mapping_as="Our sheet")

    assert ImportMapping.objects.get(department=department).name == "Our sheet"


def test_another_departments_import_is_not_found(
    client, radiologist, outsider, department, tmp_path, django_capture_on_commit_callbacks
):
    client.force_login(radiologist)
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, department, workbook(tmp_path / "series.xlsx", cohort()))
    job = ImportJob.objects.get()
    client.force_login(outsider)

    assert client.get(f"/imports/{job.pk}/").status_code == 404
    assert client.get(f"/imports/{job.pk}/report.csv").status_code == 404
    assert client.post(f"/imports/{job.pk}/commit/").status_code == 404
    assert _post(client, department, workbook(tmp_path / "s.xlsx", cohort())).status_code == 200
    assert ImportJob.objects.count() == 1  # the department is not among the outsider's choices


def test_a_department_head_may_not_import(client, head):
    client.force_login(head)

    assert client.get("/imports/").status_code == 403


def test_the_template_downloads(client, radiologist):
    client.force_login(radiologist)

    response = client.get("/imports/template.xlsx")

    assert response.status_code == 200
    assert response.content[:2] == b"PK"
