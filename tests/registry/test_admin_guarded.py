"""Every admin door is guarded: only administrators write there, and only through the services.

Staff data managers and radiologists may at most view their departments' records in the
admin; the administrators' (superusers') writes are validated, windowed and protected by the
same services as the API, whose refusals come back as form errors or messages, never a 500.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from complications.models import ComplicationEvent, CtcaeTerm
from complications.services import complication_record
from registry.models import FollowUp, Fracture, Patient, Procedure
from tests import factories
from tests.conftest import PASSWORD

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2020, 3, 4, 9, tzinfo=PARIS)


def _split(name: str, moment: datetime) -> dict[str, str]:
    """The admin's date and time boxes of a datetime field (the site's zone: Europe/Paris)."""
    local = moment.astimezone(PARIS)
    return {f"{name}_0": local.strftime("%Y-%m-%d"), f"{name}_1": local.strftime("%H:%M:%S")}


@pytest.fixture
def case(department):
    procedure = factories.procedure(factories.patient(department), started_at=START)
    factories.fracture(procedure)
    return procedure


@pytest.fixture
def foreign_case(other_department):
    procedure = factories.procedure(
        factories.patient(other_department, registry_id="B-SECRET"), started_at=START
    )
    factories.fracture(procedure)
    return procedure


def _staff_login(client, user) -> None:
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    assert client.login(username=user.username, password=PASSWORD)


@pytest.fixture
def as_admin(client, admin_user):
    assert client.login(username="admin", password=PASSWORD)
    return client


# --- staff who are not administrators only view, in their departments ----------------------


def test_a_data_manager_sees_no_other_departments_patient_in_the_admin(
    client, data_manager, case, foreign_case
):
    _staff_login(client, data_manager)
    for url in (
        "/admin/registry/procedure/add/",
        f"/admin/registry/procedure/{case.pk}/change/",
        "/admin/registry/patient/",
        "/admin/registry/procedure/",
    ):
        assert "B-SECRET" not in client.get(url).content.decode(), url


def test_a_data_manager_cannot_create_a_procedure_in_another_department(
    client, data_manager, foreign_case
):
    _staff_login(client, data_manager)
    response = client.post(
        "/admin/registry/procedure/add/",
        {
            "patient": foreign_case.patient.pk,
            **_split("started_at", START + timedelta(days=2)),
            **_split("ended_at", START + timedelta(days=2, hours=1)),
            "guidance": "ct",
            "anesthesia": "local",
            "operator": "",
        },
    )
    assert response.status_code == 403
    assert Procedure.objects.filter(patient=foreign_case.patient).count() == 1


def test_a_data_manager_cannot_move_a_patient_to_another_department(
    client, data_manager, case, other_department
):
    _staff_login(client, data_manager)
    patient = case.patient
    response = client.post(
        f"/admin/registry/patient/{patient.pk}/change/",
        {
            "department": other_department.pk,
            "registry_id": patient.registry_id,
            "sex": patient.sex,
            "birth_date": patient.birth_date.isoformat(),
            "reason": "Moved",
        },
    )
    assert response.status_code == 403
    patient.refresh_from_db()
    assert patient.department_id != other_department.pk


def _records(case):
    complication = factories.complication(case, window="early", grade=2)
    return {
        "patient": case.patient,
        "procedure": case,
        "fracture": case.fractures.get(),
        "followup": factories.follow_up(case, hours_after_end=20),
        "complicationevent": complication,
    }


def _url(model: str, suffix: str, pk: int | None = None) -> str:
    app = "complications" if model == "complicationevent" else "registry"
    return f"/admin/{app}/{model}/{pk}/{suffix}/" if pk else f"/admin/{app}/{model}/{suffix}/"


MODELS = ["patient", "procedure", "fracture", "followup", "complicationevent"]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("persona", ["data_manager", "radiologist"])
def test_staff_who_are_not_administrators_cannot_write_clinical_records_in_the_admin(
    client, request, case, persona, model
):
    _staff_login(client, request.getfixturevalue(persona))
    record = _records(case)[model]
    assert client.get(_url(model, "add")).status_code == 403
    assert client.post(_url(model, "add"), {}).status_code == 403
    assert client.post(_url(model, "change", record.pk), {"reason": "x"}).status_code == 403
    assert client.post(_url(model, "delete", record.pk), {"post": "yes"}).status_code == 403
    assert type(record).objects.filter(pk=record.pk).exists()
    # What remains is a read-only view of the record: no form field to submit.
    page = client.get(_url(model, "change", record.pk))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()


def test_a_data_manager_cannot_bulk_delete_in_the_admin(client, data_manager, case):
    _staff_login(client, data_manager)
    follow_up = factories.follow_up(case, hours_after_end=20)
    client.post(
        "/admin/registry/followup/",
        {"action": "delete_selected", "_selected_action": [follow_up.pk], "post": "yes"},
    )
    assert FollowUp.objects.filter(pk=follow_up.pk).exists()


# --- administrators write through the services -----------------------------------------------


def test_the_admin_refuses_to_delete_a_fracture_concerned_by_complications(as_admin, case):
    fracture = case.fractures.get()
    event = factories.complication(case, window="early", grade=2, fractures=[fracture])
    response = as_admin.post(f"/admin/registry/fracture/{fracture.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    page = as_admin.get(response.url).content.decode()
    assert "concerned by 1 complication(s)" in page
    assert Fracture.objects.filter(pk=fracture.pk).exists()
    assert list(event.fractures.all()) == [fracture]


def test_the_admins_bulk_delete_refuses_a_fracture_concerned_by_complications(as_admin, case):
    fracture = case.fractures.get()
    factories.complication(case, window="early", grade=2, fractures=[fracture])
    response = as_admin.post(
        "/admin/registry/fracture/",
        {"action": "delete_selected", "_selected_action": [fracture.pk], "post": "yes"},
        follow=True,
    )
    assert "concerned by 1 complication(s)" in response.content.decode()
    assert Fracture.objects.filter(pk=fracture.pk).exists()


def _procedure_post(procedure: Procedure, *, shift: timedelta, **overrides) -> dict[str, str]:
    return {
        "patient": str(procedure.patient_id),
        **_split("started_at", procedure.started_at + shift),
        **_split("ended_at", procedure.ended_at + shift),
        "guidance": procedure.guidance,
        "anesthesia": procedure.anesthesia,
        "operator": procedure.operator,
        "reason": "Times corrected from the PACS",
        **overrides,
    }


def test_procedure_times_changed_in_the_admin_re_derive_the_complication_window(as_admin, case):
    event = complication_record(
        procedure=case,
        term="10048038",
        facts={"intervention": "oral"},
        onset_at=case.ended_at + timedelta(hours=1),
    )
    assert (event.window, event.hours_after_end) == ("early", 1.0)
    response = as_admin.post(
        f"/admin/registry/procedure/{case.pk}/change/",
        _procedure_post(case, shift=-timedelta(days=1)),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    event.refresh_from_db()
    assert (event.window, event.hours_after_end) == ("delayed", 25.0)
    case.refresh_from_db()
    assert case.history.first().history_change_reason == "Times corrected from the PACS"


def test_the_admin_shows_a_procedure_services_refusal_and_saves_nothing(as_admin, case):
    factories.follow_up(case, hours_after_end=1)
    response = as_admin.post(
        f"/admin/registry/procedure/{case.pk}/change/",
        _procedure_post(case, shift=timedelta(days=1)),
    )
    assert response.status_code == 200
    assert "would be before its start" in response.content.decode()
    case.refresh_from_db()
    assert case.started_at == START


def test_an_admin_edit_of_a_saved_record_needs_a_reason(as_admin, case):
    response = as_admin.post(
        f"/admin/registry/procedure/{case.pk}/change/",
        {
            **_procedure_post(case, shift=timedelta(), operator="JG", reason=""),
            # What the old fracture inline needed, so that only the reason is missing.
            "fractures-TOTAL_FORMS": "0",
            "fractures-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    case.refresh_from_db()
    assert case.operator == ""


def test_an_admin_contact_cannot_cover_another_procedures_fracture(as_admin, case, foreign_case):
    foreign = foreign_case.fractures.get()
    response = as_admin.post(
        "/admin/registry/followup/add/",
        {
            "procedure": case.pk,
            **_split("contact_at", case.ended_at + timedelta(days=30)),
            "kind": "clinical",
            "fractures": [foreign.pk],
            "notes": "",
        },
    )
    assert response.status_code == 200
    assert "are not fractures of this procedure" in response.content.decode()
    assert not FollowUp.objects.exists()


def test_an_admin_contact_edit_offers_only_its_procedures_fractures(as_admin, case, foreign_case):
    contact = factories.follow_up(case, hours_after_end=20)
    foreign = foreign_case.fractures.get()
    response = as_admin.post(
        f"/admin/registry/followup/{contact.pk}/change/",
        {
            "procedure": case.pk,
            **_split("contact_at", contact.contact_at),
            "kind": "clinical",
            "fractures": [foreign.pk],
            "notes": "",
            "reason": "Wrong fracture",
        },
    )
    assert response.status_code == 200
    assert list(contact.fractures.all()) == list(case.fractures.all())


def test_the_procedure_admin_no_longer_writes_fractures_inline(as_admin, case):
    page = as_admin.get(f"/admin/registry/procedure/{case.pk}/change/").content.decode()
    assert "fractures-TOTAL_FORMS" not in page
    assert f"/admin/registry/fracture/{case.fractures.get().pk}/change/" in page


def test_a_patient_added_in_the_admin_goes_through_the_service(as_admin, department):
    response = as_admin.post(
        "/admin/registry/patient/add/",
        {
            "department": department.pk,
            "registry_id": "P-1",
            "sex": "female",
            "birth_date": "2990-01-01",
        },
    )
    assert response.status_code == 200
    assert "The birth date is in the future." in response.content.decode()
    assert not Patient.objects.exists()


def test_a_complication_edited_in_the_admin_keeps_the_reason(as_admin, case):
    event = complication_record(
        procedure=case,
        term="10048038",
        facts={"intervention": "oral"},
        onset_at=case.ended_at + timedelta(hours=1),
    )
    page = as_admin.get(f"/admin/complications/complicationevent/{event.pk}/change/")
    assert page.status_code == 200
    response = as_admin.post(
        f"/admin/complications/complicationevent/{event.pk}/change/",
        {
            "term": "10048038",
            "specify": "",
            **_split("onset_at", event.onset_at),
            "onset_date": "",
            "facts": '{"intervention": "iv"}',
            "grade_override": "",
            "override_reason": "",
            "outcome": "resolved",
            "relatedness": "",
            "description": "",
            "outcome_facts": "{}",
            "reason": "IV antibiotics after all",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    event = ComplicationEvent.objects.get(pk=event.pk)
    assert event.auto_grade == 3
    assert event.history.first().history_change_reason == "IV antibiotics after all"


def test_a_time_zone_change_in_the_admin_that_no_complication_fits_is_refused(as_admin, db):
    from datetime import date

    from registry.models import Department

    honolulu = Department.objects.create(code="H", name="Honolulu", time_zone="Pacific/Honolulu")
    procedure = factories.procedure(factories.patient(honolulu), started_at=START)
    # 5 March in Honolulu starts 24.5 h after the end: delayed. In Paris it would straddle.
    event = complication_record(
        procedure=procedure,
        term="10048038",
        facts={"intervention": "oral"},
        onset_date=date(2020, 3, 5),
    )
    assert event.window == "delayed"
    response = as_admin.post(
        f"/admin/registry/department/{honolulu.pk}/change/",
        {
            "code": "H",
            "name": "Honolulu",
            "time_zone": "Europe/Paris",
            "default_guidance": "ct",
            "reason": "Moved",
        },
    )
    assert response.status_code == 200
    assert "errornote" in response.content.decode()
    honolulu.refresh_from_db()
    assert honolulu.time_zone == "Pacific/Honolulu"


def test_the_term_catalogue_is_read_only_in_the_admin_even_for_an_administrator(as_admin):
    term = CtcaeTerm.objects.get(code="10048038")
    response = as_admin.post(
        f"/admin/complications/ctcaeterm/{term.pk}/change/",
        {"code": term.code, "name": term.name, "soc": term.soc, "grade_1": "Anything"},
    )
    assert response.status_code == 403
    assert as_admin.get("/admin/complications/ctcaeterm/add/").status_code == 403
    assert (
        as_admin.post(
            f"/admin/complications/ctcaeterm/{term.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert CtcaeTerm.objects.get(pk=term.pk).grades == term.grades
    assert as_admin.get(f"/admin/complications/ctcaeterm/{term.pk}/change/").status_code == 200
