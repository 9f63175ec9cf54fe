"""Idempotency-Key on every API POST, and the one-time token of the create forms.

A retried write (the client got no answer) returns the first answer instead of writing a
second record; the same key with another request is refused, saying so.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from complications.models import ComplicationEvent
from registry.idempotency import IDEMPOTENCY_TTL, idempotency_cleanup
from registry.models import FollowUp, IdempotencyRecord, Patient, Procedure
from registry.tasks import idempotency_cleanup as cleanup_task
from tests import factories as f
from tests.conftest import api_client_for

PATIENTS = "/api/v1/patients/"
FOLLOW_UPS = "/api/v1/follow-ups/"
COMPLICATIONS = "/api/v1/complications/"


def patient_body(**overrides: object) -> dict[str, object]:
    return {"registry_id": "PIG-001", "sex": "female", "birth_date": "1950-03-04", **overrides}


@pytest.fixture
def procedure(department):
    proc = f.procedure(f.patient(department))
    f.fracture(proc)
    return proc


@pytest.mark.django_db
class TestApiKey:
    def test_a_retry_with_the_same_key_returns_the_first_answer_and_writes_nothing(self, api):
        first = api.post(PATIENTS, patient_body(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        again = api.post(PATIENTS, patient_body(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        assert first.status_code == again.status_code == 201
        assert again.json() == first.json()
        assert again["ETag"] == first["ETag"]
        assert again["Idempotent-Replayed"] == "true"
        assert not first.has_header("Idempotent-Replayed")
        assert Patient.objects.count() == 1

    def test_without_a_key_every_post_writes(self, api):
        api.post(PATIENTS, patient_body(), format="json")
        api.post(PATIENTS, patient_body(registry_id="PIG-002"), format="json")
        assert Patient.objects.count() == 2
        assert not IdempotencyRecord.objects.exists()

    def test_the_same_key_with_another_body_is_a_422_that_says_so(self, api):
        api.post(PATIENTS, patient_body(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        response = api.post(
            PATIENTS, patient_body(registry_id="PIG-002"), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
        )
        assert response.status_code == 422
        assert "Idempotency-Key" in response.json()["detail"]
        assert Patient.objects.count() == 1

    def test_the_same_key_on_another_address_is_a_422(self, api, procedure):
        api.post(PATIENTS, patient_body(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        body = {"procedure": procedure.pk, "contact_at": "2020-01-07T10:00:00+01:00"}
        response = api.post(
            FOLLOW_UPS, {**body, "kind": "clinical"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
        )
        assert response.status_code == 422
        assert not FollowUp.objects.exists()

    def test_keys_belong_to_their_user(self, api, data_manager):
        other = api_client_for(data_manager)
        api.post(PATIENTS, patient_body(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        response = other.post(
            PATIENTS, patient_body(registry_id="PIG-002"), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
        )
        assert response.status_code == 201
        assert Patient.objects.count() == 2

    def test_a_refusal_is_not_stored_so_the_corrected_request_runs(self, api):
        refused = api.post(
            PATIENTS, patient_body(sex="other"), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
        )
        assert refused.status_code == 400
        assert not IdempotencyRecord.objects.exists()
        accepted = api.post(PATIENTS, patient_body(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        assert accepted.status_code == 201

    @pytest.mark.parametrize("key", ["", "a" * 256, "with space", "é"])
    def test_a_malformed_key_is_a_400_naming_the_header(self, api, key):
        response = api.post(PATIENTS, patient_body(), format="json", HTTP_IDEMPOTENCY_KEY=key)
        assert response.status_code == 400
        assert "Idempotency-Key" in response.json()
        assert not Patient.objects.exists()

    def test_a_complication_retry_creates_one_complication(self, api, procedure):
        body = {
            "procedure": procedure.pk,
            "term": f.WOUND_INFECTION[0],
            "onset_at": "2020-01-09T08:00:00+01:00",
            "facts": {"intervention": "iv"},
        }
        first = api.post(COMPLICATIONS, body, format="json", HTTP_IDEMPOTENCY_KEY="c-1")
        again = api.post(COMPLICATIONS, body, format="json", HTTP_IDEMPOTENCY_KEY="c-1")
        assert first.status_code == 201, first.json()
        assert again.json() == first.json()
        assert ComplicationEvent.objects.count() == 1

    def test_a_key_older_than_a_day_is_a_new_key(self, api):
        api.post(PATIENTS, patient_body(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        IdempotencyRecord.objects.update(created_at=timezone.now() - IDEMPOTENCY_TTL * 2)
        response = api.post(
            PATIENTS, patient_body(registry_id="PIG-002"), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
        )
        assert response.status_code == 201
        assert Patient.objects.count() == 2


@pytest.mark.django_db
def test_the_cleanup_deletes_the_answers_older_than_a_day(api):
    api.post(PATIENTS, patient_body(), format="json", HTTP_IDEMPOTENCY_KEY="old")
    api.post(
        PATIENTS, patient_body(registry_id="PIG-002"), format="json", HTTP_IDEMPOTENCY_KEY="new"
    )
    IdempotencyRecord.objects.filter(key="old").update(
        created_at=timezone.now() - IDEMPOTENCY_TTL - timedelta(minutes=1)
    )
    assert idempotency_cleanup() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
    assert cleanup_task.delay().get() == 0


def test_the_cleanup_runs_from_celery_beat():
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert cleanup_task.name in tasks


def _api_post_handlers():
    """Every (route, handler) of the API that answers POST."""

    def walk(patterns, prefix=""):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                yield prefix + str(entry.pattern), entry.callback

    for route, callback in walk(get_resolver().url_patterns):
        if not route.startswith("api/"):
            continue
        cls = getattr(callback, "cls", None)
        if cls is None:
            continue
        actions = getattr(callback, "actions", None)
        if actions is not None:
            if "post" in actions:
                yield route, getattr(cls, actions["post"])
        elif hasattr(cls, "post"):
            yield route, cls.post


def test_every_api_post_honours_the_idempotency_key():
    handlers = list(_api_post_handlers())
    assert len(handlers) >= 8, handlers  # five core resources, complications, preview, exports...
    missing = [route for route, handler in handlers if not getattr(handler, "idempotent", False)]
    assert missing == []


# --- the pages: a one-time token in the create forms -----------------------------------------


def _token(page) -> str:
    import re

    found = re.search(rb'name="form_token" value="([0-9a-f]{32})"', page.content)
    assert found, "the form carries no one-time token"
    return found.group(1).decode()


@pytest.mark.django_db
class TestFormToken:
    def test_a_new_case_submitted_twice_is_saved_once(self, client, radiologist, department):
        client.force_login(radiologist)
        token = _token(client.get("/cases/new/"))
        form = {
            "form_token": token,
            "department": department.pk,
            "registry_id": "PIG-100",
            "sex": "female",
            "birth_date": "1950-03-04",
            "started_at": "2024-03-01T09:00",
            "ended_at": "2024-03-01T10:00",
            "guidance": "ct",
            "anesthesia": "general",
            "fractures-TOTAL_FORMS": "1",
            "fractures-INITIAL_FORMS": "0",
            "fractures-0-type": "insufficiency",
            "fractures-0-site": "sacrum",
            "fractures-0-side": "left",
            "fractures-0-screws": "1",
        }
        first = client.post("/cases/new/", form)
        assert first.status_code == 302, first.content.decode()[:2000]
        again = client.post("/cases/new/", form)
        assert again.status_code == 302
        assert again["Location"] == first["Location"]
        assert Procedure.objects.count() == 1

    def test_a_follow_up_submitted_twice_is_saved_once(self, client, radiologist, procedure):
        client.force_login(radiologist)
        page = client.get(f"/cases/{procedure.pk}/")
        form = {
            "form_token": _token(page),
            "contact_at": "2020-01-07T10:00",
            "kind": "clinical",
            "notes": "called",
        }
        first = client.post(f"/cases/{procedure.pk}/follow-ups/", form)
        again = client.post(f"/cases/{procedure.pk}/follow-ups/", form)
        assert first.status_code == again.status_code == 302
        assert FollowUp.objects.count() == 1

    def test_a_refused_submission_keeps_its_token_for_the_corrected_one(
        self, client, radiologist, procedure
    ):
        client.force_login(radiologist)
        token = _token(client.get(f"/cases/{procedure.pk}/"))
        form = {"form_token": token, "contact_at": "2019-01-01T10:00", "kind": "clinical"}
        refused = client.post(f"/cases/{procedure.pk}/follow-ups/", form)
        assert refused.status_code == 200  # before the procedure: shown again
        assert _token(refused) == token
        corrected = client.post(
            f"/cases/{procedure.pk}/follow-ups/", {**form, "contact_at": "2020-01-07T10:00"}
        )
        assert corrected.status_code == 302
        assert FollowUp.objects.count() == 1

    def test_a_complication_submitted_twice_is_saved_once(self, client, radiologist, procedure):
        client.force_login(radiologist)
        url = f"/cases/{procedure.pk}/complications/new/"
        page = client.get(url)
        assert page.status_code == 200
        form = {
            "form_token": _token(page),
            "term": f.WOUND_INFECTION[0],
            "onset_kind": "at",
            "onset_at": "2020-01-09T08:00",
            "intervention": "iv",
        }
        first = client.post(url, form)
        again = client.post(url, form)
        assert first.status_code == 302, first.context["form"].errors
        assert again.status_code == 302
        assert ComplicationEvent.objects.count() == 1
