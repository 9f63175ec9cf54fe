"""Queries (registry.queries): opened by data managers on a record or a field, answered by
the radiologist who entered the case, closed and reopened; the API, the pages, the audit."""

from __future__ import annotations

from datetime import datetime

import pytest

from registry.models import DataQuery, Procedure, Profile, QueryMessage
from tests import factories as f
from tests.conftest import api_client_for
from tests.factories import PARIS

pytestmark = pytest.mark.django_db
QUERIES = "/api/v1/queries/"


@pytest.fixture
def case(department, radiologist):
    patient = f.patient(department)
    procedure = Procedure(
        patient=patient,
        started_at=datetime(2020, 3, 4, 9, tzinfo=PARIS),
        ended_at=datetime(2020, 3, 4, 10, tzinfo=PARIS),
        guidance="ct",
        anesthesia="general",
    )
    procedure._history_user = radiologist  # type: ignore[attr-defined]  # who entered it
    procedure.save()
    fracture = f.fracture(procedure)
    return {"procedure": procedure, "fracture": fracture, "patient": patient}


def test_a_query_from_opening_to_closing_through_the_api(case, data_manager, radiologist):
    manager, reader = api_client_for(data_manager), api_client_for(radiologist)

    opened = manager.post(
        QUERIES,
        {
            "record_type": "fracture",
            "record_id": case["fracture"].pk,
            "field": "screws",
            "text": "Two screws on the report?",
        },
        format="json",
    )
    assert opened.status_code == 201, opened.content
    body = opened.json()
    assert set(body) == {"id", "record_type", "record_id", "field", "text", "status", "messages"}
    assert body["status"] == "open" and body["field"] == "screws"
    assert body["messages"][0]["author"] == data_manager.username
    query = DataQuery.objects.get(pk=body["id"])
    assert query.assigned_to == radiologist and query.procedure == case["procedure"]

    answered = reader.post(f"{QUERIES}{body['id']}/answer/", {"text": "One."}, format="json")
    assert answered.status_code == 200 and answered.json()["status"] == "answered"
    assert reader.post(f"{QUERIES}{body['id']}/close/", {}, format="json").status_code == 403

    closed = manager.post(f"{QUERIES}{body['id']}/close/", {"text": "Corrected."}, format="json")
    assert closed.json()["status"] == "closed"
    assert [m["text"] for m in closed.json()["messages"]] == [
        "Two screws on the report?",
        "One.",
        "Corrected.",
    ]
    assert (
        manager.post(f"{QUERIES}{body['id']}/answer/", {"text": "x"}, format="json").status_code
        == 400
    )
    reopened = manager.post(f"{QUERIES}{body['id']}/reopen/", {}, format="json")
    assert reopened.json()["status"] == "open"
    # Every message and change of status is in the audit trail.
    assert QueryMessage.history.filter(query_id=body["id"]).count() == 3
    assert list(
        DataQuery.history.filter(id=body["id"])
        .order_by("history_date")
        .values_list("status", flat=True)
    ) == ["open", "answered", "closed", "open"]


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("radiologist", 403),
        ("head", 403),
        ("api_user", 403),
        ("data_manager", 201),
        ("outsider", 403),
    ],
)
def test_only_data_managers_open_queries_on_records_they_see(case, request, role, expected):
    client = api_client_for(request.getfixturevalue(role))
    response = client.post(
        QUERIES,
        {"record_type": "procedure", "record_id": case["procedure"].pk, "text": "Start time?"},
        format="json",
    )
    assert response.status_code == expected, response.content


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"record_type": "fracture", "field": "colour"}, "field"),
        ({"record_type": "follow_up"}, "record_id"),
        ({"record_type": "x-ray"}, "record_type"),
    ],
)
def test_a_query_on_an_unknown_record_or_field_is_refused(case, data_manager, body, field):
    response = api_client_for(data_manager).post(
        QUERIES, {"record_id": case["fracture"].pk, "text": "?", **body}, format="json"
    )
    assert response.status_code == 400
    assert field in response.json()


def test_another_departments_queries_are_not_found(case, data_manager, outsider):
    opened = (
        api_client_for(data_manager)
        .post(
            QUERIES,
            {"record_type": "patient", "record_id": case["patient"].pk, "text": "Birth year?"},
            format="json",
        )
        .json()
    )
    other = api_client_for(outsider)
    assert other.get(f"{QUERIES}{opened['id']}/").status_code == 404
    assert other.get(QUERIES).json()["results"] == []


def test_the_pages_show_open_queries_on_the_case_worklist_list_and_dashboard(
    client, case, data_manager, radiologist
):
    url = f"/cases/{case['procedure'].pk}/"
    client.force_login(data_manager)
    response = client.post(
        f"{url}queries/",
        {
            "record": f"procedure:{case['procedure'].pk}",
            "field": "operator",
            "text": "Who operated?",
        },
    )
    query = DataQuery.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/queries/{query.pk}/"
    assert "Who operated?" in client.get(url).content.decode()
    assert f"Q{query.pk}" in client.get("/queries/").content.decode()
    assert f"Q{query.pk}" not in client.get("/queries/", {"status": "closed"}).content.decode()
    assert 'id="open-queries"' in client.get("/dashboard/").content.decode()

    client.force_login(radiologist)
    assert f"Q{query.pk}" in client.get("/worklist/").content.decode()
    assert 'id="query-form"' not in client.get(url).content.decode()
    client.post(f"/queries/{query.pk}/answer/", {"text": "Dr X."})
    assert client.post(f"/queries/{query.pk}/close/").status_code == 403
    query.refresh_from_db()
    assert query.status == "answered"


def test_the_daily_digest_lists_the_open_queries_asked_of_the_radiologist(
    case, data_manager, radiologist, mailoutbox
):
    from registry.queries import query_open
    from registry.tasks import send_worklist_digests

    radiologist.email = "rad@example.org"
    radiologist.save()
    Profile.objects.update_or_create(user=radiologist, defaults={"digest_opt_in": True})
    query = query_open(
        user=data_manager,
        record_type="procedure",
        record_id=case["procedure"].pk,
        text="Start time?",
    )

    send_worklist_digests()

    mine = [m for m in mailoutbox if m.to == ["rad@example.org"]]
    assert len(mine) == 1
    assert f"Q{query.pk}" in mine[0].body and "Start time?" in mine[0].body
