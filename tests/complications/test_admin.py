"""The administrators' admin writes complications through the grading service, and its
edits and deletions keep the outcome summary exact."""

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


# --- edits and deletions in the admin keep the outcome summary exact -----------------


def _summary_is_exact() -> bool:
    from complications.outcomes.check import outcomes_differences

    return not any(outcomes_differences().values())


def test_a_contact_moved_in_the_admin_moves_the_delayed_denominator(client, admin_user, proc):
    from complications.models import FractureOutcome

    contact = factories.follow_up(proc, hours_after_end=20)
    assert FractureOutcome.objects.get().contact_beyond_24h is False
    assert client.login(username="admin", password=PASSWORD)
    later = proc.ended_at.astimezone(PARIS) + timedelta(hours=40)
    response = client.post(
        f"/admin/registry/followup/{contact.pk}/change/",
        {
            "procedure": proc.pk,
            "fractures": [f.pk for f in proc.fractures.all()],
            "contact_at_0": later.strftime("%Y-%m-%d"),
            "contact_at_1": later.strftime("%H:%M:%S"),
            "kind": "clinical",
            "notes": "",
            "reason": "Contact time corrected",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert FractureOutcome.objects.get().contact_beyond_24h is True
    assert _summary_is_exact()


def test_a_complication_deleted_in_the_admin_leaves_the_rates(client, admin_user, proc):
    from complications.stats.rates import rates

    event = factories.complication(proc, window="early", grade=3)
    assert rates(user=admin_user)["windows"]["early"]["events"] == 1
    assert client.login(username="admin", password=PASSWORD)
    response = client.post(
        f"/admin/complications/complicationevent/{event.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert rates(user=admin_user)["windows"]["early"]["events"] == 0
    assert _summary_is_exact()


def test_procedures_deleted_together_in_the_admin_leave_their_months(client, admin_user, proc):
    from complications.stats.rates import rates

    other = factories.procedure(
        factories.patient(proc.patient.department),
        started_at=datetime(2020, 3, 20, 9, tzinfo=PARIS),
    )
    factories.fracture(other)
    assert rates(user=admin_user)["windows"]["per_procedural"]["at_risk"] == 2
    assert client.login(username="admin", password=PASSWORD)
    response = client.post(
        "/admin/registry/procedure/",
        {"action": "delete_selected", "_selected_action": [proc.pk, other.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert rates(user=admin_user)["windows"]["per_procedural"]["at_risk"] == 0
    assert _summary_is_exact()
