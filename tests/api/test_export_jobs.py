"""Background export jobs in the embedded mode (tasks run eagerly, after commit):
202 and Location, progress, a download for the owner only, failures, retries,
idempotence, and the XLSX and FHIR files."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path

import pytest
from django.db import OperationalError
from openpyxl import load_workbook

from complications import exports
from complications.exports import CASE_COLUMNS, COMPLICATION_COLUMNS, jobs
from complications.exports.csv import CsvExporter
from complications.models import ExportJob
from complications.tasks import export_run
from registry import roles
from tests import factories as f
from tests.conftest import _user, api_client_for
from tests.factories import PARIS
from tests.fhir_schema import assert_valid

JOBS = "/api/v1/exports/"


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def cases(department):
    for i in range(3):
        procedure = f.procedure(
            f.patient(department),
            started_at=datetime(2020, 1, 6 + i, 9, tzinfo=PARIS),
            operator='=HYPERLINK("http://x")' if i == 0 else "JG",
        )
        f.fracture(procedure, type="pathological" if i else "insufficiency")
        f.complication(procedure, window="early", grade=2)


def start(client, run, body) -> dict:
    """POST a job, run the on-commit callbacks (the eager task), return the job as GET shows it.

    The test's transaction never commits, so the callbacks run when ``run``
    exits, after the response: the job's state is read afterwards.
    """
    with run(execute=True):
        response = client.post(JOBS, body, format="json")
    assert response.status_code == 202, response.content
    return client.get(response["Location"]).json()


def files(media: Path) -> list[Path]:
    return (
        sorted(p for p in (media / "exports").rglob("*") if p.is_file())
        if (media / "exports").exists()
        else []
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_in_the_embedded_mode_the_202_already_reports_the_finished_job(head, cases, media):
    """Real commits: the task runs when the request's transaction commits,
    before the response is written, and the 202 says what it left."""
    client = api_client_for(head)
    response = client.post(JOBS, {"format": "csv"}, format="json")
    assert response.status_code == 202
    assert (response.json()["status"], response.json()["progress"]) == ("done", 100)
    assert len(files(media)) == 1


@pytest.mark.django_db
class TestStartingAJob:
    def test_it_answers_202_with_the_jobs_url_and_runs_it(
        self, head, cases, django_capture_on_commit_callbacks
    ):
        client = api_client_for(head)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(JOBS, {"format": "csv"}, format="json")
        assert response.status_code == 202
        body = response.json()
        assert response["Location"] == body["url"]
        assert body["url"].endswith(f"/api/v1/exports/{body['id']}/")
        assert (body["format"], body["kind"]) == ("csv", "complications")

        job = client.get(body["url"])
        assert job.status_code == 200 and job["ETag"]
        assert (job.json()["status"], job.json()["progress"]) == ("done", 100)
        assert job.json()["download_url"].endswith(f"/api/v1/exports/{body['id']}/download/")

        download = client.get(job.json()["download_url"])
        assert download.status_code == 200
        assert download["Content-Disposition"].startswith(
            'attachment; filename="pigsf-complications-'
        )
        rows = list(csv.DictReader(io.StringIO(b"".join(download.streaming_content).decode())))
        assert len(rows) == 3 and list(rows[0]) == [
            c for c in COMPLICATION_COLUMNS if c != "registry_id"
        ]

    def test_a_queued_job_shows_its_status_and_no_download_yet(self, head, cases):
        client = api_client_for(head)
        body = client.post(JOBS, {"format": "fhir"}, format="json").json()  # callbacks never run
        assert (body["status"], body["progress"], body["download_url"]) == ("queued", 0, None)
        assert client.get(f"{JOBS}{body['id']}/download/").status_code == 409

    def test_the_job_covers_the_departments_its_owner_sees_now(
        self, head, department, other_department
    ):
        body = api_client_for(head).post(JOBS, {"format": "xlsx"}, format="json").json()
        assert list(ExportJob.objects.get(pk=body["id"]).departments.all()) == [department]

    def test_filters_are_kept_and_applied(self, head, cases, django_capture_on_commit_callbacks):
        client = api_client_for(head)
        body = start(
            client,
            django_capture_on_commit_callbacks,
            {
                "format": "csv",
                "kind": "cases",
                "filters": {"fracture_type": "pathological", "date_from": "2020-01-01"},
            },
        )
        assert body["filters"] == {"fracture_type": "pathological", "date_from": "2020-01-01"}
        content = b"".join(client.get(f"{JOBS}{body['id']}/download/").streaming_content).decode()
        rows = list(csv.DictReader(io.StringIO(content)))
        assert [r["fracture_type"] for r in rows] == ["pathological", "pathological"]

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"format": "pdf"}, "format"),
            ({}, "format"),
            ({"format": "xlsx", "kind": "cases"}, "kind"),
            ({"format": "csv", "kind": "patients"}, "kind"),
            ({"format": "csv", "filters": {"fracture_type": "bogus"}}, "filters"),
            (
                {"format": "csv", "filters": {"date_from": "2020-02-01", "date_to": "2020-01-01"}},
                "filters",
            ),
        ],
    )
    def test_bad_input_is_a_400_naming_the_field(self, head, body, field):
        response = api_client_for(head).post(JOBS, body, format="json")
        assert response.status_code == 400
        assert field in response.json()
        assert not ExportJob.objects.exists()

    def test_another_departments_filter_is_refused(self, head, other_department):
        response = api_client_for(head).post(
            JOBS, {"format": "csv", "filters": {"department": other_department.pk}}, format="json"
        )
        assert response.status_code == 400
        assert "department" in response.json()["filters"]

    def test_a_radiologist_may_not_start_one(self, api):
        assert api.post(JOBS, {"format": "csv"}, format="json").status_code == 403


@pytest.mark.django_db
class TestOwnership:
    def test_only_the_owner_sees_and_downloads_the_job(
        self, head, data_manager, cases, django_capture_on_commit_callbacks
    ):
        body = start(api_client_for(head), django_capture_on_commit_callbacks, {"format": "csv"})
        colleague = api_client_for(data_manager)  # same department, may export too
        assert colleague.get(body["url"]).status_code == 404
        assert colleague.get(f"{JOBS}{body['id']}/download/").status_code == 404
        assert colleague.get(JOBS).json()["count"] == 0
        assert api_client_for(head).get(JOBS).json()["count"] == 1

    def test_a_missing_job_is_a_404(self, head):
        assert api_client_for(head).get(f"{JOBS}999999/").status_code == 404


@pytest.mark.django_db
class TestFailures:
    def test_a_failing_export_is_marked_failed_and_leaves_no_file(
        self, head, cases, media, monkeypatch, django_capture_on_commit_callbacks
    ):
        def half_then_boom(self, path, *, tick=None):
            Path(path).write_text("fracture_id\n1\n")
            raise ValueError("disk on fire")

        monkeypatch.setattr(CsvExporter, "write", half_then_boom)
        client = api_client_for(head)
        job = start(client, django_capture_on_commit_callbacks, {"format": "csv"})
        assert job["status"] == "failed"
        assert "disk on fire" in job["error"]
        assert job["download_url"] is None
        assert ExportJob.objects.get(pk=job["id"]).file.name == ""
        assert files(media) == []
        assert client.get(f"{JOBS}{job['id']}/download/").status_code == 409

    def test_a_transient_database_error_is_retried(self, head, cases, monkeypatch):
        real, calls = CsvExporter.write, []

        def flaky(*args, **kwargs):
            calls.append(1)
            if len(calls) == 1:
                raise OperationalError("server closed the connection unexpectedly")
            return real(*args, **kwargs)

        monkeypatch.setattr(CsvExporter, "write", flaky)
        job = ExportJob.objects.create(owner=head, format="csv", kind="cases")
        # throw=False: Celery runs an in-process retry instead of re-raising it.
        export_run.apply(args=[job.pk], throw=False)
        job.refresh_from_db()
        assert (len(calls), job.status) == (2, "done")

    def test_the_job_fails_once_the_retries_are_spent(self, head, cases, media, monkeypatch):
        calls = []

        def down(*args, **kwargs):
            calls.append(1)
            raise OperationalError("could not connect to server")

        monkeypatch.setattr(CsvExporter, "write", down)
        job = ExportJob.objects.create(owner=head, format="csv", kind="cases")
        # The last attempt: Celery gives up and the task's failure handler fails the job.
        export_run.apply(args=[job.pk], retries=export_run.max_retries, throw=False)
        job.refresh_from_db()
        assert len(calls) == 1
        assert (job.status, job.file.name) == ("failed", "")
        assert "OperationalError: could not connect to server" in job.error
        assert files(media) == []

    def test_in_the_embedded_mode_a_database_error_fails_the_job_without_a_500(
        self, head, cases, media, monkeypatch, django_capture_on_commit_callbacks
    ):
        def down(*args, **kwargs):
            raise OperationalError("database is locked")

        monkeypatch.setattr(CsvExporter, "write", down)
        job = start(api_client_for(head), django_capture_on_commit_callbacks, {"format": "csv"})
        assert job["status"] == "failed"
        assert job["error"] == "OperationalError: database is locked"
        assert files(media) == []

    def test_a_job_that_cannot_be_queued_is_failed(
        self, head, cases, monkeypatch, django_capture_on_commit_callbacks
    ):
        def broker_down(*args, **kwargs):
            raise ConnectionError("Error 111 connecting to redis:6379")

        monkeypatch.setattr(export_run, "apply_async", broker_down)
        job = start(api_client_for(head), django_capture_on_commit_callbacks, {"format": "csv"})
        assert (job["status"], job["error"]) == (
            "failed",
            "ConnectionError: Error 111 connecting to redis:6379",
        )

    def test_an_owner_who_lost_the_export_permission_gets_a_failed_job(self, head, radiologist):
        job = ExportJob.objects.create(owner=radiologist, format="csv", kind="cases")
        assert exports.export_job_run(job_id=job.pk).status == "failed"


@pytest.mark.django_db
class TestIdempotence:
    def test_running_a_done_job_again_changes_nothing(
        self, head, cases, media, django_capture_on_commit_callbacks
    ):
        body = start(api_client_for(head), django_capture_on_commit_callbacks, {"format": "csv"})
        job = ExportJob.objects.get(pk=body["id"])
        (written,) = files(media)
        assert written.stat().st_mode & 0o777 == 0o644  # the storage's mode, not mkstemp's
        stamp = written.stat().st_mtime_ns
        assert export_run.apply(args=[job.pk]).get() == {
            "id": job.pk,
            "status": "done",
            "progress": 100,
        }
        assert written.stat().st_mtime_ns == stamp
        assert files(media) == [written]
        again = ExportJob.objects.get(pk=job.pk)
        assert (again.status, again.finished_at, again.file.name) == (
            "done",
            job.finished_at,
            job.file.name,
        )


@pytest.mark.django_db
class TestProgress:
    def test_progress_grows_to_100_through_short_updates(self, head, department, monkeypatch):
        procedure = f.procedure(f.patient(department))
        f.fracture(procedure)
        for _ in range(40):
            f.complication(procedure, window="delayed", grade=1)
        job = ExportJob.objects.create(owner=head, format="csv", kind="complications")
        job.departments.set([department])
        seen: list[int] = []
        update = jobs._Progress.__call__

        def spy(self):
            update(self)
            seen.append(ExportJob.objects.get(pk=self.job_id).progress)

        monkeypatch.setattr(jobs._Progress, "__call__", spy)
        exports.export_job_run(job_id=job.pk)
        assert seen == sorted(seen) and seen[0] < 10 and seen[-1] == 99
        job.refresh_from_db()
        assert (job.status, job.progress) == ("done", 100)

    @pytest.mark.parametrize(
        ("format", "kind"), [("csv", "cases"), ("csv", "complications"), ("xlsx", ""), ("fhir", "")]
    )
    def test_the_expected_total_is_what_gets_written(
        self, head, department, tmp_path, format, kind
    ):
        for i in range(3):
            procedure = f.procedure(f.patient(department))
            f.fracture(procedure)
            f.fracture(procedure, site="iliac")
            f.complication(procedure, window="early", grade=1 + i)
        ticks: list[int] = []
        exporter = exports.exporter_for(format, exports.Selection.for_user(head), kind=kind)
        exporter.write(tmp_path / "out", tick=lambda: ticks.append(1))
        assert len(ticks) == exporter.count() > 0

    def test_a_job_deleted_before_it_ran_is_nothing_to_do(self, head):
        job = ExportJob.objects.create(owner=head, format="fhir")
        pk = job.pk
        job.delete()
        assert export_run.apply(args=[pk]).get() == {"id": pk, "status": "deleted", "progress": 0}


@pytest.mark.django_db
class TestFiles:
    def test_the_xlsx_holds_both_tables_and_text_stays_text(
        self, head, cases, django_capture_on_commit_callbacks
    ):
        client = api_client_for(head)
        body = start(client, django_capture_on_commit_callbacks, {"format": "xlsx"})
        download = client.get(body["download_url"])
        assert download["Content-Type"].startswith("application/vnd.openxmlformats")
        workbook = load_workbook(io.BytesIO(b"".join(download.streaming_content)), read_only=True)
        assert workbook.sheetnames == ["cases", "complications", "outcomes"]
        outcomes = list(workbook["outcomes"].values)
        assert outcomes[0][:4] == ("severity", "measure", "day", "value")
        # per severity: the crude delayed rate, then the cumulative incidence at four days
        assert [(row[0], row[1], row[2]) for row in outcomes[1:6]] == [
            ("any", "crude_delayed_rate", None),
            *(("any", "cumulative_incidence", day) for day in (30, 90, 180, 365)),
        ]
        assert len(outcomes) == 11
        cases_rows = list(workbook["cases"].values)
        assert list(cases_rows[0]) == [c for c in CASE_COLUMNS if c != "registry_id"]
        assert len(cases_rows) == 4 and len(list(workbook["complications"].values)) == 4
        column = cases_rows[0].index("operator")
        operators = [row[column] for row in workbook["cases"].iter_rows(min_row=2)]
        assert {(cell.value, cell.data_type) for cell in operators} == {
            ('=HYPERLINK("http://x")', "s"),  # text, never a formula
            ("JG", "s"),
        }
        ages = {row[cases_rows[0].index("age_at_procedure")] for row in cases_rows[1:]}
        assert ages == {70}

    def test_the_fhir_file_is_a_valid_bundle(self, head, cases, django_capture_on_commit_callbacks):
        client = api_client_for(head)
        body = start(client, django_capture_on_commit_callbacks, {"format": "fhir"})
        download = client.get(body["download_url"])
        assert download["Content-Type"] == "application/fhir+json"
        bundle = json.loads(b"".join(download.streaming_content))
        assert_valid(bundle)  # the official R4 JSON schema
        # one Organization, and a Patient, Procedure, Condition, AdverseEvent per case
        assert len(bundle["entry"]) == 1 + 3 + 3 + 3 + 3


@pytest.mark.django_db
def test_a_head_of_another_department_cannot_see_our_jobs(
    head, other_department, django_capture_on_commit_callbacks
):
    body = api_client_for(head).post(JOBS, {"format": "csv"}, format="json").json()
    stranger = api_client_for(_user("head_b", roles.DEPARTMENT_HEAD, other_department))
    assert stranger.get(f"{JOBS}{body['id']}/").status_code == 404
