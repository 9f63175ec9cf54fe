"""FHIR Bulk Data $export: kick-off, status, manifest, NDJSON files per type,
``_type`` and ``_since``, on the export job machinery, with the exports' permissions."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from complications.exports import Selection
from complications.exports.fhir import fhir_resources
from complications.models import ExportJob
from registry import roles
from tests import factories as f
from tests.conftest import _user, api_client_for
from tests.factories import PARIS
from tests.fhir_schema import assert_valid

KICKOFF = "/api/v1/fhir/$export"


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def add_case(department, day: int) -> None:
    procedure = f.procedure(
        f.patient(department), started_at=datetime(2020, 1, day, 9, tzinfo=PARIS)
    )
    fracture = f.fracture(procedure, type="pathological")
    f.follow_up(procedure, hours_after_end=48, fractures=[fracture])
    f.complication(procedure, window="early", grade=2)


@pytest.fixture
def cases(department):
    for day in (6, 7, 8):
        add_case(department, day)


def kick_off(client, run, **query) -> str:
    with run(execute=True):
        response = client.get(KICKOFF, query)
    assert response.status_code == 202, response.content
    return response["Content-Location"]


def download(client, manifest: dict) -> dict[str, list[dict]]:
    files = {}
    for output in manifest["output"]:
        response = client.get(output["url"])
        assert response.status_code == 200
        assert response["Content-Type"] == "application/fhir+ndjson"
        text = b"".join(response.streaming_content).decode()
        files[output["type"]] = [json.loads(line) for line in text.splitlines()]
        assert len(files[output["type"]]) == output["count"]
    return files


@pytest.mark.django_db
class TestBulkExport:
    def test_kick_off_status_then_a_manifest_of_valid_ndjson_files(
        self, head, cases, django_capture_on_commit_callbacks
    ):
        client = api_client_for(head)
        with django_capture_on_commit_callbacks(execute=False):
            response = client.get(KICKOFF)  # the task never runs: the job stays queued
        assert response.status_code == 202
        waiting = client.get(response["Content-Location"])
        assert waiting.status_code == 202 and waiting["X-Progress"] == "0% (queued)"

        status_url = kick_off(client, django_capture_on_commit_callbacks, _outputFormat="ndjson")
        done = client.get(status_url)
        assert done.status_code == 200
        manifest = done.json()
        assert manifest["requiresAccessToken"] is True and manifest["error"] == []
        assert manifest["request"].endswith("$export?_outputFormat=ndjson")
        datetime.fromisoformat(manifest["transactionTime"])
        files = download(client, manifest)
        assert {t: len(r) for t, r in files.items()} == {
            "Organization": 1,
            "Patient": 3,
            "Condition": 3,
            "Procedure": 3,
            "Encounter": 3,
            "AdverseEvent": 3,
        }
        resources = [r for rs in files.values() for r in rs]
        assert_valid(resources)
        names = {f"{r['resourceType']}/{r['id']}" for r in resources}
        cited = {
            ref
            for r in resources
            for ref in json.dumps(r).split('"reference": "')[1:]
            for ref in [ref.split('"')[0]]
        }
        assert cited and cited <= names  # relative references that resolve
        bundle_ids = {r["id"] for r in fhir_resources(Selection.for_user(head))}
        assert {r["id"] for r in resources} == bundle_ids  # the Bundle's resources

    def test_type_narrows_the_files(self, head, cases, django_capture_on_commit_callbacks):
        client = api_client_for(head)
        status_url = kick_off(
            client, django_capture_on_commit_callbacks, _type="Patient, AdverseEvent"
        )
        manifest = client.get(status_url).json()
        assert [o["type"] for o in manifest["output"]] == ["Patient", "AdverseEvent"]
        assert (
            client.get(manifest["output"][0]["url"].replace("Patient", "Procedure")).status_code
            == 404
        )

    def test_since_keeps_the_cases_changed_since(
        self, head, department, cases, django_capture_on_commit_callbacks
    ):
        since = timezone.now()
        add_case(department, 9)
        client = api_client_for(head)
        status_url = kick_off(client, django_capture_on_commit_callbacks, _since=since.isoformat())
        files = download(client, client.get(status_url).json())
        assert Counter({t: len(r) for t, r in files.items()}) == Counter(
            Organization=1, Patient=1, Condition=1, Procedure=1, Encounter=1, AdverseEvent=1
        )
        assert files["Procedure"][0]["performedPeriod"]["start"].startswith("2020-01-09")
        later = kick_off(
            client,
            django_capture_on_commit_callbacks,
            _since=(timezone.now() + timedelta(hours=1)).isoformat(),
        )
        assert client.get(later).json()["output"] == []

    def test_bad_parameters_are_400s(self, head):
        client = api_client_for(head)
        response = client.get(KICKOFF, {"_type": "Observation"})
        assert response.status_code == 400 and "_type" in response.json()
        assert client.get(KICKOFF, {"_since": "yesterday"}).status_code == 400
        assert client.get(KICKOFF, {"_outputFormat": "text/csv"}).status_code == 400
        assert client.get(KICKOFF, {"department": 999999}).status_code == 404

    def test_permissions_are_those_of_the_exports(
        self, head, radiologist, other_department, cases, django_capture_on_commit_callbacks
    ):
        assert api_client_for(radiologist).get(KICKOFF).status_code == 403
        status_url = kick_off(api_client_for(head), django_capture_on_commit_callbacks)
        stranger = api_client_for(_user("head_b", roles.DEPARTMENT_HEAD, other_department))
        assert stranger.get(status_url).status_code == 404
        manifest = api_client_for(head).get(status_url).json()
        assert stranger.get(manifest["output"][0]["url"]).status_code == 404
        patients = download(api_client_for(head), manifest)["Patient"]
        assert all("birthDate" not in p for p in patients)

    def test_a_failed_export_answers_an_operation_outcome(self, head):
        job = ExportJob.objects.create(
            owner=head, format="ndjson", status="failed", error="RuntimeError: boom"
        )
        response = api_client_for(head).get(f"{KICKOFF}/{job.pk}/")
        assert response.status_code == 500
        assert response.json()["issue"][0]["diagnostics"] == "RuntimeError: boom"
        csv_job = ExportJob.objects.create(owner=head, format="csv", kind="cases")
        assert api_client_for(head).get(f"{KICKOFF}/{csv_job.pk}/").status_code == 404


def test_the_export_page_does_not_offer_the_packed_bulk_file():
    from complications.export_views import ExportStartForm

    offered = [value for value, _label in ExportStartForm().fields["format"].choices]
    assert "ndjson" not in offered and {"csv", "xlsx", "fhir"} <= set(offered)
