"""The admin writes complications through the grading service."""

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from complications.models import ComplicationEvent
from tests import factories
from tests.conftest import PASSWORD

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def proc(department):
    procedure = factories.procedure(
        factories.patient(department), started_at=datetime(2020, 3, 4, 9, tzinfo=PARIS)
    )
    factories.fracture(procedure)
    return procedure


def _post(client, proc, **overrides):
    end = proc.ended_at.astimezone(PARIS) + timedelta(days=3)
    data = {
        "procedure": proc.pk,
        "term": "10048038",
        "specify": "",
        "onset_at_0": end.strftime("%Y-%m-%d"),
        "onset_at_1": end.strftime("%H:%M:%S"),
        "onset_date": "",
        "facts": json.dumps({"intervention": "iv"}),
        "grade_override": "",
        "override_reason": "",
        "outcome": "resolved",
        "relatedness": "",
        "description": "",
        "outcome_facts": "{}",
        **overrides,
    }
    return client.post("/admin/complications/complicationevent/add/", data)


def test_a_complication_added_in_the_admin_is_graded_by_the_service(client, admin_user, proc):
    assert client.login(username="admin", password=PASSWORD)
    response = _post(client, proc)
    assert response.status_code == 302, response.content.decode()[:2000]
    event = ComplicationEvent.objects.get()
    assert (event.auto_grade, event.window) == (3, "delayed")
    assert event.fractures.count() == 1


def test_the_admin_shows_the_grading_error_and_saves_nothing(client, admin_user, proc):
    assert client.login(username="admin", password=PASSWORD)
    response = _post(client, proc, term="10033425", facts=json.dumps({"death": True}))
    assert response.status_code == 200
    assert "Pain in extremity" in response.content.decode()
    assert not ComplicationEvent.objects.exists()
