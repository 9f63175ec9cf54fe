"""Correcting and deleting saved records from the registry's own pages.

Radiologists and data managers correct a patient, a procedure, a fracture or a follow-up
contact there (what they used the admin for), with a reason that the audit trail keeps;
the services' rules and protections apply as in the API, another department's record is a
404, and department heads and API clients may not write.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from complications.services import complication_record
from registry.models import FollowUp, Fracture, Patient, Procedure
from registry.services import procedure_update
from tests import factories
from tests.conftest import PASSWORD

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2020, 3, 4, 9, tzinfo=PARIS)


def _local(moment: datetime) -> str:
    return moment.astimezone(PARIS).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def case(department):
    procedure = factories.procedure(factories.patient(department), started_at=START)
    factories.fracture(procedure)
    return procedure


def _login(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def manager(client, data_manager):
    return _login(client, data_manager)


def _procedure_data(procedure: Procedure, *, shift=timedelta(), **overrides) -> dict[str, str]:
    return {
        "started_at": _local(procedure.started_at + shift),
        "ended_at": _local(procedure.ended_at + shift),
        "guidance": procedure.guidance,
        "anesthesia": procedure.anesthesia,
        "operator": procedure.operator,
        "follow_up_status": procedure.follow_up_status,
        "reason": "Times corrected from the PACS",
        **overrides,
    }


# --- edits ------------------------------------------------------------------------------------


def test_a_data_manager_corrects_a_procedures_times_with_a_reason(manager, case):
    event = complication_record(
        procedure=case,
        term="10048038",
        facts={"intervention": "oral"},
        onset_at=case.ended_at + timedelta(hours=1),
    )
    page = manager.get(f"/cases/{case.pk}/edit/")
    assert page.status_code == 200
    assert _local(case.started_at) in page.content.decode()
    response = manager.post(
        f"/cases/{case.pk}/edit/", _procedure_data(case, shift=-timedelta(days=1))
    )
    assert response.status_code == 302
    assert response.url == f"/cases/{case.pk}/"
    case.refresh_from_db()
    assert case.started_at == START - timedelta(days=1)
    assert case.history.first().history_change_reason == "Times corrected from the PACS"
    event.refresh_from_db()
    assert (event.window, event.hours_after_end) == ("delayed", 25.0)


def test_a_correction_without_a_reason_is_refused(manager, case):
    response = manager.post(
        f"/cases/{case.pk}/edit/", _procedure_data(case, operator="JG", reason="")
    )
    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    case.refresh_from_db()
    assert case.operator == ""


def test_a_services_refusal_is_shown_on_the_correction_form(manager, case):
    factories.follow_up(case, hours_after_end=1)
    response = manager.post(
        f"/cases/{case.pk}/edit/", _procedure_data(case, shift=timedelta(days=1))
    )
    assert response.status_code == 200
    assert "would be before its start" in response.content.decode()
    case.refresh_from_db()
    assert case.started_at == START


def test_a_radiologist_corrects_a_patient_and_the_audit_keeps_why(client, radiologist, case):
    _login(client, radiologist)
    patient = case.patient
    response = client.post(
        f"/patients/{patient.pk}/edit/",
        {
            "registry_id": patient.registry_id,
            "sex": "male",
            "birth_date": patient.birth_date.isoformat(),
            "reason": "Sex mistyped at entry",
        },
    )
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.sex == "male"
    assert patient.history.first().history_change_reason == "Sex mistyped at entry"


def test_a_fracture_is_corrected_on_its_page(manager, case):
    fracture = case.fractures.get()
    response = manager.post(
        f"/cases/{case.pk}/fractures/{fracture.pk}/edit/",
        {
            "type": fracture.type,
            "site": fracture.site,
            "side": "right",
            "aetiology": "",
            "screws": "2",
            "reason": "Side checked on the CT",
        },
    )
    assert response.status_code == 302
    fracture.refresh_from_db()
    assert (fracture.side, fracture.screws) == ("right", 2)
    assert fracture.history.first().history_change_reason == "Side checked on the CT"


def test_a_follow_up_contact_is_corrected_and_keeps_its_fractures(manager, case):
    contact = factories.follow_up(case, hours_after_end=20)
    response = manager.post(
        f"/cases/{case.pk}/follow-ups/{contact.pk}/edit/",
        {
            "contact_at": _local(contact.contact_at),
            "kind": "phone",
            "fractures": [f.pk for f in case.fractures.all()],
            "notes": "",
            "reason": "It was a phone call",
        },
    )
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.kind == "phone"
    assert list(contact.fractures.all()) == list(case.fractures.all())
    assert contact.history.first().history_change_reason == "It was a phone call"


def test_a_follow_up_contact_cannot_be_given_another_procedures_fracture(manager, case, department):
    other = factories.procedure(factories.patient(department), started_at=START)
    foreign = factories.fracture(other)
    contact = factories.follow_up(case, hours_after_end=20)
    response = manager.post(
        f"/cases/{case.pk}/follow-ups/{contact.pk}/edit/",
        {
            "contact_at": _local(contact.contact_at),
            "kind": "clinical",
            "fractures": [foreign.pk],
            "notes": "",
            "reason": "Wrong fracture",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["fractures"]
    assert list(contact.fractures.all()) == list(case.fractures.all())


def test_a_patient_cannot_take_a_registry_id_used_in_the_department(manager, case, department):
    taken = factories.patient(department, registry_id="TAKEN")
    patient = case.patient
    response = manager.post(
        f"/patients/{patient.pk}/edit/",
        {
            "registry_id": taken.registry_id,
            "sex": patient.sex,
            "birth_date": patient.birth_date.isoformat(),
            "reason": "Merge",
        },
    )
    assert response.status_code == 200
    assert "already used in the department" in response.content.decode()
    patient.refresh_from_db()
    assert patient.registry_id != "TAKEN"


def test_a_correction_saved_meanwhile_is_a_conflict_and_nothing_is_overwritten(manager, case):
    page = manager.get(f"/cases/{case.pk}/edit/")
    version = page.context["form"]["version"].value()
    procedure_update(procedure=case, operator="Someone else", reason="Other correction")
    response = manager.post(
        f"/cases/{case.pk}/edit/", {**_procedure_data(case, operator="JG"), "version": version}
    )
    assert response.status_code == 409
    assert 'id="edit-conflict"' in response.content.decode()
    case.refresh_from_db()
    assert case.operator == "Someone else"


# --- deletions --------------------------------------------------------------------------------


def test_a_deletion_asks_for_confirmation_and_a_reason(manager, case):
    contact = factories.follow_up(case, hours_after_end=20)
    url = f"/cases/{case.pk}/follow-ups/{contact.pk}/delete/"
    assert manager.get(url).status_code == 200
    assert manager.post(url, {"reason": ""}).status_code == 200
    assert FollowUp.objects.filter(pk=contact.pk).exists()
    response = manager.post(url, {"reason": "Entered twice"})
    assert response.status_code == 302
    assert not FollowUp.objects.filter(pk=contact.pk).exists()
    assert FollowUp.history.filter(id=contact.pk).first().history_change_reason == "Entered twice"


def test_deleting_a_fracture_concerned_by_complications_is_refused(manager, case):
    fracture = case.fractures.get()
    factories.complication(case, window="early", grade=2, fractures=[fracture])
    response = manager.post(
        f"/cases/{case.pk}/fractures/{fracture.pk}/delete/", {"reason": "Wrong level"}
    )
    assert response.status_code == 200
    assert "concerned by 1 complication(s)" in response.content.decode()
    assert Fracture.objects.filter(pk=fracture.pk).exists()


def test_deleting_a_procedure_with_complications_is_refused(manager, case):
    factories.complication(case, window="early", grade=2)
    response = manager.post(f"/cases/{case.pk}/delete/", {"reason": "Test case"})
    assert response.status_code == 200
    assert "cannot be deleted while it has 1 complications" in response.content.decode()
    assert Procedure.objects.filter(pk=case.pk).exists()


def test_deleting_a_patient_with_procedures_is_refused(manager, case):
    response = manager.post(f"/patients/{case.patient_id}/delete/", {"reason": "Duplicate"})
    assert response.status_code == 200
    assert "cannot be deleted while it has 1 procedures" in response.content.decode()
    assert Patient.objects.filter(pk=case.patient_id).exists()


def test_a_procedure_without_complications_is_deleted_with_its_fractures(manager, case):
    response = manager.post(f"/cases/{case.pk}/delete/", {"reason": "Entered in error"})
    assert response.status_code == 302
    assert not Procedure.objects.filter(pk=case.pk).exists()
    assert not Fracture.objects.exists()


# --- who may --------------------------------------------------------------------------------------


def _urls(case) -> list[str]:
    contact = factories.follow_up(case, hours_after_end=20)
    fracture = case.fractures.get()
    return [
        f"/patients/{case.patient_id}/edit/",
        f"/patients/{case.patient_id}/delete/",
        f"/cases/{case.pk}/edit/",
        f"/cases/{case.pk}/delete/",
        f"/cases/{case.pk}/fractures/{fracture.pk}/edit/",
        f"/cases/{case.pk}/fractures/{fracture.pk}/delete/",
        f"/cases/{case.pk}/follow-ups/{contact.pk}/edit/",
        f"/cases/{case.pk}/follow-ups/{contact.pk}/delete/",
    ]


def test_another_departments_records_are_not_found(client, data_manager, outsider, case):
    urls = _urls(case)
    _login(client, data_manager)
    for url in urls:
        assert client.get(url).status_code == 200, url
    _login(client, outsider)
    for url in urls:
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"reason": "x"}).status_code == 404, url
    assert Procedure.objects.filter(pk=case.pk).exists()


def test_a_fracture_of_another_procedure_is_not_found_under_this_one(manager, case, department):
    other = factories.procedure(factories.patient(department), started_at=START)
    fracture = case.fractures.get()
    assert manager.get(f"/cases/{other.pk}/fractures/{fracture.pk}/edit/").status_code == 404


@pytest.mark.parametrize("persona", ["head", "api_user"])
def test_heads_and_api_clients_may_not_correct_or_delete(client, request, case, persona):
    _login(client, request.getfixturevalue(persona))
    for url in _urls(case):
        assert client.get(url).status_code == 403, url
        assert client.post(url, {"reason": "x"}).status_code == 403, url
    assert Fracture.objects.filter(procedure=case).exists()


def test_every_record_of_the_case_page_links_to_its_audit_trail_and_correction(manager, case):
    contact = factories.follow_up(case, hours_after_end=20)
    event = factories.complication(case, window="early", grade=2)
    fracture = case.fractures.get()
    page = manager.get(f"/cases/{case.pk}/").content.decode()
    for model, pk in [
        ("procedure", case.pk),
        ("patient", case.patient_id),
        ("fracture", fracture.pk),
        ("followup", contact.pk),
        ("complication", event.pk),
    ]:
        assert f"/audit/{model}/{pk}/" in page, model
    for url in [
        f"/patients/{case.patient_id}/edit/",
        f"/cases/{case.pk}/edit/",
        f"/cases/{case.pk}/delete/",
        f"/cases/{case.pk}/fractures/{fracture.pk}/edit/",
        f"/cases/{case.pk}/fractures/{fracture.pk}/delete/",
        f"/cases/{case.pk}/follow-ups/{contact.pk}/edit/",
        f"/cases/{case.pk}/follow-ups/{contact.pk}/delete/",
    ]:
        assert url in page, url


def test_a_head_sees_the_audit_trails_but_no_correction_link(client, head, case):
    _login(client, head)
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert f"/audit/procedure/{case.pk}/" in page
    assert f"/cases/{case.pk}/edit/" not in page


def test_the_patient_list_links_to_corrections(manager, case):
    page = manager.get("/patients/").content.decode()
    assert f"/patients/{case.patient_id}/edit/" in page
    assert f"/patients/{case.patient_id}/delete/" in page
    assert f"/audit/patient/{case.patient_id}/" in page


def test_a_patient_without_procedures_is_deleted_and_the_audit_keeps_why(manager, department):
    patient = factories.patient(department)
    response = manager.post(f"/patients/{patient.pk}/delete/", {"reason": "Registered twice"})
    assert response.status_code == 302
    assert response.url == "/patients/"
    assert not Patient.objects.filter(pk=patient.pk).exists()
    assert Patient.history.filter(id=patient.pk).first().history_change_reason == "Registered twice"


# --- vital status and follow-up closure on the correction pages --------------------------------


def test_the_follow_up_is_closed_and_the_death_recorded_on_the_correction_pages(manager, case):
    response = manager.post(
        f"/cases/{case.pk}/edit/",
        _procedure_data(case, follow_up_status="deceased", follow_up_closed_on="2020-06-01"),
    )
    assert response.status_code == 302, response.context["form"].errors
    case.refresh_from_db()
    assert (case.follow_up_status, str(case.follow_up_closed_on)) == ("deceased", "2020-06-01")
    patient = case.patient
    data = {
        "registry_id": patient.registry_id,
        "sex": patient.sex,
        "birth_date": patient.birth_date.isoformat(),
        "death_date": "2020-05-31",  # before the closing day
        "death_related": "false",
        "reason": "Death reported by the GP",
    }
    response = manager.post(f"/patients/{patient.pk}/edit/", data)
    assert response.status_code == 200
    assert "follow-up closing day (2020-06-01)" in response.content.decode()
    response = manager.post(f"/patients/{patient.pk}/edit/", {**data, "death_date": "2020-06-01"})
    assert response.status_code == 302
    patient.refresh_from_db()
    assert (str(patient.death_date), patient.death_related) == ("2020-06-01", False)


def test_a_closed_follow_up_needs_its_day_on_the_form(manager, case):
    response = manager.post(
        f"/cases/{case.pk}/edit/", _procedure_data(case, follow_up_status="lost")
    )
    assert response.status_code == 200
    assert response.context["form"].errors["follow_up_closed_on"]
