"""Every /api/ answer is JSON: 404, 405, 413, 500, and 503 with Retry-After when a dependency
(here a real Redis cache that is not there) is down. Pages keep HTML."""

from __future__ import annotations

import socket

import pytest
from django.test import override_settings

from complications.models import ComplicationEvent
from tests import factories as f


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dead_cache():
    """Django's Redis cache pointed at a port where no Redis answers (connection refused)."""
    location = f"redis://127.0.0.1:{_closed_port()}/0"
    with override_settings(
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": location,
                "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
            }
        }
    ):
        yield location


@pytest.mark.django_db
class TestApiErrorsAreJson:
    def test_an_unknown_api_address_is_a_json_404(self, api):
        response = api.get("/api/v1/no-such-thing/")
        assert response.status_code == 404
        assert response["Content-Type"].startswith("application/json")
        assert "detail" in response.json()

    def test_a_method_not_allowed_is_a_json_405(self, api):
        response = api.delete("/api/v1/patients/")
        assert response.status_code == 405
        assert "detail" in response.json()

    def test_an_oversized_body_is_a_json_413(self, api, settings):
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
        response = api.post("/api/v1/patients/", {"registry_id": "x" * 2000}, format="json")
        assert response.status_code == 413
        assert "detail" in response.json()

    def test_a_dependency_down_is_a_json_503_with_retry_after(self, api, department, monkeypatch):
        # A broker that refuses connections, met by a view that needs it: the grading
        # preview is made to publish, as a task-sending view would. (The database case
        # runs against killed PostgreSQL backends in tests/faults/test_killed_backends.py.)
        from kombu import Connection

        from complications.api import views

        location = f"redis://127.0.0.1:{_closed_port()}/0"

        def publishes(**kwargs):
            with Connection(location, connect_timeout=1) as conn:
                conn.ensure_connection(max_retries=0)

        monkeypatch.setattr(views.services, "grading_preview", publishes)
        api.raise_request_exception = False
        response = api.post(
            "/api/v1/grading/preview/", {"term": f.WOUND_INFECTION[0], "facts": {}}, format="json"
        )
        assert response.status_code == 503
        assert response["Content-Type"].startswith("application/json")
        assert int(response["Retry-After"]) > 0
        body = response.json()
        assert body["dependency"] == "broker"
        assert "detail" in body

    def test_with_the_cache_down_the_statistics_answer_from_the_database(self, api, dead_cache):
        # The live version is kept in the database, so the cache is not a dependency of the
        # statistics: they are computed on each request while it is down.
        response = api.get("/api/v1/stats/version/")
        assert response.status_code == 200
        assert response.json()["version"] >= 0

    def test_an_unexpected_error_is_a_json_500(self, api, department, monkeypatch):
        from complications.api import views

        def broken(**kwargs):
            raise RuntimeError("a bug")

        monkeypatch.setattr(views.services, "grading_preview", broken)
        api.raise_request_exception = False
        response = api.post(
            "/api/v1/grading/preview/", {"term": f.WOUND_INFECTION[0], "facts": {}}, format="json"
        )
        assert response.status_code == 500
        assert response["Content-Type"].startswith("application/json")
        assert "a bug" not in response.content.decode()  # no internals to the client
        assert "detail" in response.json()

    def test_a_write_during_a_cache_outage_is_stored_once_and_acknowledged(
        self, api, department, dead_cache
    ):
        # The dashboards' version bump after the commit fails quietly: the write is a 201.
        proc = f.procedure(f.patient(department))
        f.fracture(proc)
        response = api.post(
            "/api/v1/complications/",
            {
                "procedure": proc.pk,
                "term": f.WOUND_INFECTION[0],
                "onset_at": "2020-01-09T08:00:00+01:00",
                "facts": {"intervention": "iv"},
            },
            format="json",
        )
        assert response.status_code == 201
        assert ComplicationEvent.objects.count() == 1


@pytest.mark.django_db
def test_a_page_keeps_its_html_error(client, radiologist):
    client.force_login(radiologist)
    response = client.get("/cases/999999/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.django_db
class TestHealth:
    def test_liveness_consults_no_dependency(self, client, dead_cache):
        response = client.get("/health/live/")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}

    @pytest.mark.parametrize("url", ["/health/", "/health/ready/"])
    def test_readiness_reports_each_dependency(self, client, url):
        response = client.get(url)
        assert response.status_code == 200
        checks = response.json()["checks"]
        assert set(checks) == {"database", "cache", "broker", "replica_lag"}
        assert checks["database"]["status"] == checks["cache"]["status"] == "ok"
        # The test settings run tasks in-process and have no replica.
        assert checks["broker"]["status"] == "not configured"
        assert checks["replica_lag"]["status"] == "not configured"
        assert checks["database"]["required"] and not checks["broker"]["required"]

    @pytest.mark.parametrize("url", ["/health/", "/health/ready/"])
    def test_readiness_is_a_503_naming_the_cache_while_it_is_down(self, client, dead_cache, url):
        response = client.get(url)
        assert response.status_code == 503
        assert response["Retry-After"]
        body = response.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["cache"]["status"] == "down"
        assert body["checks"]["database"]["status"] == "ok"

    def test_a_broker_down_is_reported_but_not_required(self, client, settings):
        settings.CELERY_TASK_ALWAYS_EAGER = False
        settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{_closed_port()}/0"
        response = client.get("/health/ready/")
        assert response.status_code == 200
        assert response.json()["checks"]["broker"]["status"] == "down"
