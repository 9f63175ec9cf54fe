"""Vital status and follow-up closure: the services' rules, the API fields, the worklist."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from complications.services import complication_record
from registry.models import FollowUpStatus
from registry.selectors import follow_up_worklist
from registry.services import (
    after_death,
    follow_up_create,
    patient_create,
    patient_update,
    procedure_create,
    procedure_update,
)
from tests import factories
from tests.conftest import api_client_for

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2020, 3, 4, 9, 15, tzinfo=PARIS)  # ends 10:45


@pytest.fixture
def case(department):
    patient = factories.patient(department)
    procedure = factories.procedure(patient, started_at=START)
    factories.fracture(procedure)
    return procedure


@pytest.mark.parametrize(
    ("value", "death", "after"),
    [
        (date(2020, 3, 10), date(2020, 3, 10), False),  # the death day itself
        (date(2020, 3, 11), date(2020, 3, 10), True),
        (datetime(2020, 3, 10, 23, 30, tzinfo=PARIS), date(2020, 3, 10), False),
        # 23:30 UTC on the 10th is already the 11th in Paris: the local day counts
        (datetime(2020, 3, 10, 23, 30, tzinfo=ZoneInfo("UTC")), date(2020, 3, 10), True),
        (date(2030, 1, 1), None, False),  # alive
    ],
)
def test_after_death_compares_local_days(department, value, death, after):
    patient = factories.patient(department)
    patient.death_date = death
    assert after_death(value, patient=patient) is after


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"death_date": date(1949, 12, 31)}, "death_date"),  # before birth (1950-01-01)
        ({"death_date": date(2999, 1, 1)}, "death_date"),  # in the future
        ({"death_related": True}, "death_related"),  # related, but no death
    ],
)
def test_a_patient_death_is_refused_when_implausible(department, fields, field):
    with pytest.raises(ValidationError) as exc:
        patient_create(
            department=department,
            registry_id="R1",
            sex="female",
            birth_date=date(1950, 1, 1),
            **fields,
        )
    assert field in exc.value.message_dict


def test_a_death_before_recorded_contacts_onsets_or_procedures_is_refused(case):
    follow_up_create(procedure=case, contact_at=START + timedelta(days=10), kind="clinical")
    with pytest.raises(ValidationError) as exc:
        patient_update(patient=case.patient, death_date=date(2020, 3, 10))
    assert "follow-up contact (2020-03-14)" in exc.value.message_dict["death_date"][0]
    patient_update(patient=case.patient, death_date=date(2020, 3, 14), death_related=False)
    case.patient.refresh_from_db()
    assert case.patient.death_date == date(2020, 3, 14)


def test_an_onset_before_the_death_then_a_death_before_it(case):
    complication_record(
        procedure=case,
        term="10048038",
        facts={"intervention": "oral"},
        onset_date=date(2020, 3, 20),
    )
    with pytest.raises(ValidationError) as exc:
        patient_update(patient=case.patient, death_date=date(2020, 3, 19))
    assert "complication onset (2020-03-20)" in exc.value.message_dict["death_date"][0]


def test_nothing_clinical_is_recorded_after_the_death(case):
    patient_update(patient=case.patient, death_date=date(2020, 3, 10))
    case.refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        follow_up_create(procedure=case, contact_at=START + timedelta(days=7), kind="phone")
    assert "contact_at" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        complication_record(
            procedure=case,
            term="10048038",
            facts={"intervention": "oral"},
            onset_at=START + timedelta(days=7),
        )
    assert "onset_at" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        procedure_create(
            patient=case.patient,
            started_at=START + timedelta(days=7),
            ended_at=START + timedelta(days=7, hours=1),
            guidance="ct",
            anesthesia="general",
        )
    assert "started_at" in exc.value.message_dict
    # the death day itself is still allowed
    follow_up_create(procedure=case, contact_at=START + timedelta(days=6), kind="phone")


@pytest.mark.parametrize(
    ("status", "closed_on", "error"),
    [
        ("open", None, None),
        ("open", date(2020, 4, 1), "An open follow-up has no closing date."),
        ("completed", None, "Give the day the follow-up was closed."),
        ("lost", date(2020, 3, 3), "The follow-up cannot close before the procedure ends."),
        ("completed", date(2020, 3, 4), None),  # the day it ended
        ("lost", date(2999, 1, 1), "The closing date is in the future."),
        ("deceased", date(2020, 6, 1), None),
    ],
)
def test_the_follow_up_closure(case, status, closed_on, error):
    if error is None:
        procedure_update(procedure=case, follow_up_status=status, follow_up_closed_on=closed_on)
        case.refresh_from_db()
        assert (case.follow_up_status, case.follow_up_closed_on) == (status, closed_on)
        return
    with pytest.raises(ValidationError) as exc:
        procedure_update(procedure=case, follow_up_status=status, follow_up_closed_on=closed_on)
    assert exc.value.message_dict["follow_up_closed_on"] == [error]


def test_reopening_clears_the_closing_day_and_closing_after_death_is_refused(case):
    procedure_update(procedure=case, follow_up_status="lost", follow_up_closed_on=date(2020, 5, 1))
    procedure_update(procedure=case, follow_up_status="open")
    case.refresh_from_db()
    assert case.follow_up_closed_on is None
    patient_update(patient=case.patient, death_date=date(2020, 4, 1))
    case.refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        procedure_update(
            procedure=case, follow_up_status="completed", follow_up_closed_on=date(2020, 4, 2)
        )
    assert "death" in exc.value.message_dict["follow_up_closed_on"][0]


def test_the_api_carries_vital_status_and_closure(case, radiologist):
    client = api_client_for(radiologist)
    response = client.patch(
        f"/api/v1/procedures/{case.pk}/",
        {"follow_up_status": "completed", "follow_up_closed_on": "2020-06-01"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["follow_up_status"] == "completed"
    response = client.patch(
        f"/api/v1/procedures/{case.pk}/", {"follow_up_status": "lost"}, format="json"
    )
    assert response.status_code == 200  # the closing day stays
    response = client.patch(
        f"/api/v1/procedures/{case.pk}/",
        {"follow_up_status": "completed", "follow_up_closed_on": None},
        format="json",
    )
    assert response.status_code == 400 and "follow_up_closed_on" in response.json()
    response = client.patch(
        f"/api/v1/patients/{case.patient.pk}/",
        {"death_date": "2020-05-01", "death_related": False},
        format="json",
    )
    assert response.status_code == 400  # the follow-up closed on 2020-06-01, after it
    response = client.patch(
        f"/api/v1/patients/{case.patient.pk}/",
        {"death_date": "2020-06-02", "death_related": False},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["death_date"], body["death_related"]) == ("2020-06-02", False)
    response = client.patch(
        f"/api/v1/patients/{case.patient.pk}/", {"death_date": "2999-01-01"}, format="json"
    )
    assert response.status_code == 400 and "death_date" in response.json()


NOW = datetime(2024, 3, 1, 12, 0, tzinfo=ZoneInfo("UTC"))


@pytest.mark.parametrize(
    ("status", "dead", "listed"),
    [
        ("open", False, True),
        ("completed", False, False),
        ("lost", False, False),
        ("deceased", True, False),
        ("open", True, False),  # a recorded death closes every follow-up of the patient
    ],
)
def test_the_worklist_stops_chasing_closed_or_deceased_cases(
    radiologist, department, status, dead, listed
):
    start = NOW - timedelta(days=400)
    patient = factories.patient(department)
    procedure = factories.procedure(patient, started_at=start)
    factories.fracture(procedure)
    if status != FollowUpStatus.OPEN:
        procedure.follow_up_status = status
        procedure.follow_up_closed_on = (start + timedelta(days=100)).date()
        procedure.save()
    if dead:
        patient.death_date = (start + timedelta(days=100)).date()
        patient.save()
    assert bool(follow_up_worklist(user=radiologist, now=NOW)) is listed


def test_the_data_quality_page_lists_disagreeing_vital_status(client, radiologist, department):
    from tests.conftest import PASSWORD

    dead = factories.patient(department, registry_id="DEAD-OPEN")
    dead.death_date = date(2020, 6, 1)
    dead.save()
    factories.fracture(factories.procedure(dead, started_at=START))
    alive = factories.patient(department, registry_id="ALIVE-DECEASED")
    closed = factories.procedure(alive, started_at=START)
    closed.follow_up_status, closed.follow_up_closed_on = "deceased", date(2020, 6, 1)
    closed.save()
    consistent = factories.patient(department, registry_id="CONSISTENT")
    consistent.death_date = date(2020, 6, 1)
    consistent.save()
    done = factories.procedure(consistent, started_at=START)
    done.follow_up_status, done.follow_up_closed_on = "deceased", date(2020, 6, 1)
    done.save()
    assert client.login(username="radiologist", password=PASSWORD)
    page = client.get("/dashboard/data-quality/").content.decode()
    deaths = page.split('id="deaths-without-closing-status"')[1].split("</section>")[0]
    deceased = page.split('id="deceased-without-death-date"')[1].split("</section>")[0]
    assert "DEAD-OPEN" in deaths and "ALIVE-DECEASED" not in deaths
    assert "ALIVE-DECEASED" in deceased and "DEAD-OPEN" not in deceased
    assert "CONSISTENT" not in deaths + deceased


def test_the_case_page_shows_the_vital_status(client, radiologist, case):
    from tests.conftest import PASSWORD

    assert client.login(username="radiologist", password=PASSWORD)
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert "Close the follow-up" in page
    patient_update(patient=case.patient, death_date=date(2020, 5, 2), death_related=True)
    procedure_update(
        procedure=case, follow_up_status="deceased", follow_up_closed_on=date(2020, 5, 2)
    )
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert "Patient died on 2020-05-02" in page and "caused by a recorded complication" in page
    assert "closed on 2020-05-02" in page and "Close the follow-up" not in page
