"""ETag on every object response; If-Match on PUT/PATCH/DELETE (412 when stale)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from complications.models import ComplicationEvent
from complications.services import complication_record
from registry.models import Patient
from tests import factories as f


def _complication(department) -> ComplicationEvent:
    procedure = f.procedure(f.patient(department))
    f.fracture(procedure)
    return complication_record(
        procedure=procedure,
        term="10048038",
        facts={"intervention": "oral"},
        onset_at=procedure.ended_at + timedelta(hours=50),
    )


# resource URL, builder, a valid PATCH
RESOURCES: list[tuple[str, Callable, dict]] = [
    ("/api/v1/patients/", lambda d: f.patient(d), {"sex": "male"}),
    ("/api/v1/procedures/", lambda d: f.procedure(f.patient(d)), {"operator": "Dr B"}),
    ("/api/v1/fractures/", lambda d: f.fracture(f.procedure(f.patient(d))), {"screws": 3}),
    (
        "/api/v1/follow-ups/",
        lambda d: f.follow_up(f.procedure(f.patient(d)), hours_after_end=30),
        {"kind": "phone"},
    ),
    ("/api/v1/complications/", _complication, {"description": "Redness"}),
]
IDS = [url.split("/")[3] for url, _, _ in RESOURCES]


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "build", "change"), RESOURCES, ids=IDS)
class TestEveryResource:
    def test_get_one_carries_an_etag_that_a_patch_response_moves(
        self, api, department, url, build, change
    ):
        target = f"{url}{build(department).pk}/"
        etag = api.get(target)["ETag"]

        response = api.patch(target, change, format="json", HTTP_IF_MATCH=etag)

        assert response.status_code == 200, response.json()
        assert etag.startswith('"') and response["ETag"] != etag
        assert api.get(target)["ETag"] == response["ETag"]

    def test_a_stale_if_match_is_412_and_changes_nothing(self, api, department, url, build, change):
        target = f"{url}{build(department).pk}/"
        stale = api.get(target)["ETag"]
        assert api.patch(target, change, format="json").status_code == 200
        before = api.get(target).json()

        patched = api.patch(target, {}, format="json", HTTP_IF_MATCH=stale)
        deleted = api.delete(target, HTTP_IF_MATCH=stale)

        assert patched.status_code == deleted.status_code == 412
        assert "non_field_errors" in patched.json()
        assert api.get(target).json() == before

    def test_a_current_if_match_allows_the_delete(self, api, department, url, build, change):
        target = f"{url}{build(department).pk}/"
        etag = api.get(target)["ETag"]

        assert api.delete(target, HTTP_IF_MATCH=etag).status_code == 204
        assert api.get(target).status_code == 404


@pytest.mark.django_db
class TestIfMatch:
    @pytest.fixture
    def target(self, department) -> str:
        return f"/api/v1/patients/{f.patient(department, sex='female').pk}/"

    def test_if_match_star_is_accepted(self, api, target):
        assert (
            api.patch(target, {"sex": "male"}, format="json", HTTP_IF_MATCH="*").status_code == 200
        )

    def test_a_list_of_etags_holding_the_current_one_is_accepted(self, api, target):
        etag = api.get(target)["ETag"]

        response = api.patch(
            target, {"sex": "male"}, format="json", HTTP_IF_MATCH=f'"0000", {etag}'
        )

        assert response.status_code == 200

    def test_a_weak_etag_never_matches(self, api, target):
        etag = api.get(target)["ETag"]

        response = api.put(
            target,
            {"registry_id": "R", "sex": "male", "birth_date": "1950-01-01"},
            format="json",
            HTTP_IF_MATCH=f"W/{etag}",
        )

        assert response.status_code == 412
        assert Patient.objects.get().sex == "female"

    def test_without_if_match_the_write_is_unconditional(self, api, target):
        assert api.patch(target, {"sex": "male"}, format="json").status_code == 200

    def test_a_create_response_carries_the_etag_of_the_new_object(self, api, department):
        response = api.post(
            "/api/v1/patients/",
            {"registry_id": "N", "sex": "male", "birth_date": "1950-01-01"},
            format="json",
        )

        assert response.status_code == 201
        assert response["ETag"] == api.get(f"/api/v1/patients/{response.json()['id']}/")["ETag"]

    def test_a_derived_change_moves_the_complications_etag(self, api, department):
        event = _complication(department)
        target = f"/api/v1/complications/{event.pk}/"
        etag = api.get(target)["ETag"]

        moved = api.patch(
            f"/api/v1/procedures/{event.procedure_id}/",
            {"ended_at": (event.procedure.ended_at + timedelta(hours=30)).isoformat()},
            format="json",
        )

        assert moved.status_code == 200, moved.json()
        assert api.get(target).json()["window"] == "early"
        assert (
            api.patch(target, {"description": "x"}, format="json", HTTP_IF_MATCH=etag).status_code
            == 412
        )

    def test_if_match_on_another_departments_record_is_still_a_404(self, outsider_api, target):
        assert (
            outsider_api.patch(
                target, {"sex": "male"}, format="json", HTTP_IF_MATCH='"stale"'
            ).status_code
            == 404
        )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_writers_of_the_same_version_cannot_both_win(radiologist, department, monkeypatch):
    """The If-Match check runs under a row lock: the second writer waits, then sees it is stale.

    The service is slowed down so that the two requests overlap; without the lock both would
    pass the check against the version they read and the second would overwrite the first.
    """
    import threading
    import time

    from django.db import connection

    from registry.api import views
    from tests.conftest import api_client_for

    patient = f.patient(department, sex="female")
    target = f"/api/v1/patients/{patient.pk}/"
    etag = api_client_for(radiologist).get(target)["ETag"]
    real_update = views.services.patient_update

    def slow_update(**kwargs):
        time.sleep(0.5)
        return real_update(**kwargs)

    monkeypatch.setattr(views.services, "patient_update", slow_update)
    statuses: list[int] = []
    start = threading.Barrier(2)

    def write(registry_id: str) -> None:
        try:
            client = api_client_for(radiologist)
            start.wait()
            response = client.patch(
                target, {"registry_id": registry_id}, format="json", HTTP_IF_MATCH=etag
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(name,)) for name in ("FIRST", "SECOND")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200, 412]
