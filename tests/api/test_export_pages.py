"""The export jobs page and the API token page; in a real Chromium, the progress
bar following a job until its download link appears."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from complications.models import ExportJob
from tests import services
from tests.conftest import PASSWORD

EXPORTS = "/exports/"
TOKEN = "/account/api-token/"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def browser(user, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.mark.django_db
class TestExportsPage:
    def test_it_lists_the_users_jobs_with_what_the_script_polls(self, head, data_manager):
        mine = ExportJob.objects.create(
            owner=head, format="csv", kind="cases", status="running", progress=40
        )
        ExportJob.objects.create(owner=data_manager, format="xlsx")
        response = browser(head).get(EXPORTS)
        assert response.status_code == 200
        html = response.content.decode()
        assert f'data-job-url="/api/v1/exports/{mine.pk}/"' in html
        assert 'aria-valuenow="40"' in html
        assert html.count("data-job-url=") == 1
        assert "js/exports.js" in html
        config = json.loads(
            html.split('id="exports-config" type="application/json">')[1].split("</script>")[0]
        )
        assert config["pollMs"] == 1000 and config["labels"]["done"] == "Done"
        # The content security policy allows neither inline styles nor inline scripts.
        assert "style=" not in html
        assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", html)

    def test_the_form_starts_a_job_with_the_filters(
        self, head, department, django_capture_on_commit_callbacks
    ):
        client = browser(head)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                EXPORTS,
                {
                    "format": "csv",
                    "kind": "cases",
                    "fracture_type": "pathological",
                    "department": department.pk,
                },
            )
        assert response.status_code == 302 and response["Location"] == EXPORTS
        job = ExportJob.objects.get(owner=head)
        assert (job.format, job.kind, job.status) == ("csv", "cases", "done")
        assert job.filters == {"department": department.pk, "fracture_type": "pathological"}
        assert "Export #" in client.get(EXPORTS).content.decode()

    def test_an_xlsx_job_has_no_kind(self, head):
        browser(head).post(EXPORTS, {"format": "xlsx", "kind": "cases"})
        assert ExportJob.objects.get(owner=head).kind == ""

    def test_bad_filters_are_shown_and_start_nothing(self, head):
        response = browser(head).post(
            EXPORTS, {"format": "csv", "date_from": "2020-02-01", "date_to": "2020-01-01"}
        )
        assert response.status_code == 200
        assert "alert-danger" in response.content.decode()
        assert not ExportJob.objects.exists()

    def test_a_radiologist_may_not_export(self, radiologist):
        assert browser(radiologist).get(EXPORTS).status_code == 403

    def test_it_needs_a_login(self, db):
        assert Client().get(EXPORTS).status_code == 302


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_bar_follows_a_running_job_until_its_download_link_appears(
    live_server, client, head, tmp_path, monkeypatch
):
    from playwright.sync_api import expect, sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM use here is synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    job = ExportJob.objects.create(
        owner=head, format="csv", kind="cases", status="running", progress=40
    )
    client.force_login(head)
    errors: list[str] = []
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=services.chromium_path(), args=["--no-sandbox", "--disable-gpu"]
        )
        context = chromium.new_context(base_url=live_server.url)
        context.add_cookies(
            [
                {
                    "name": "sessionid",
                    "value": client.cookies["sessionid"].value,
                    "url": live_server.url,
                }
            ]
        )
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto("/exports/")
        row = page.locator(f'tr[data-job-url="/api/v1/exports/{job.pk}/"]')
        bar = row.locator(".progress-bar")
        expect(bar).to_have_attribute("style", re.compile(r"width: 40%"))
        expect(row.locator("a")).to_have_count(0)

        # What the task does at the end: the file in place, then the job done.
        (tmp_path / "exports").mkdir()
        (tmp_path / "exports" / f"job-{job.pk}.csv").write_text("fracture_id\n")
        ExportJob.objects.filter(pk=job.pk).update(
            status="done", progress=100, file=f"exports/job-{job.pk}.csv"
        )

        expect(row.get_by_role("link", name="Download")).to_be_visible(timeout=5_000)
        expect(bar).to_have_attribute("style", re.compile(r"width: 100%"))
        expect(row.locator('[data-field="status"]')).to_have_text("Done")
        chromium.close()
    assert errors == [], f"the browser reported errors: {errors}"
