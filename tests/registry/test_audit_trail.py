"""The audit trail: every change of a clinical record keeps who, when, what and why.

Changes are made through the services, as the application makes them, with
the acting user set where ``HistoryRequestMiddleware`` sets it in a request.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.db import DatabaseError, connection, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from simple_history.models import HistoricalRecords

from complications.models import ComplicationEvent
from complications.services import complication_override, complication_record, complication_update
from registry import services
from registry.audit.selectors import AUDITED, audited_model
from registry.models import FollowUp, Fracture, Patient, Procedure

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2020, 3, 4, 9, 0, tzinfo=PARIS)
WOUND_INFECTION = "10048038"


@contextmanager
def acting_as(user) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Writes inside are attributed to ``user``, as in a request through the middleware."""
    HistoricalRecords.context.request = SimpleNamespace(user=user)
    try:
        yield
    finally:
        del HistoricalRecords.context.request


def _patient(department, registry_id: str = "PIG-001") -> Patient:  # type: ignore[no-untyped-def]
    return services.patient_create(
        department=department, registry_id=registry_id, sex="female", birth_date=date(1950, 3, 4)
    )


def _procedure(department) -> Procedure:  # type: ignore[no-untyped-def]
    return services.procedure_create(
        patient=_patient(department),
        started_at=START,
        ended_at=START + timedelta(hours=1),
        guidance="ct",
        anesthesia="general",
    )


def _fracture(department) -> Fracture:  # type: ignore[no-untyped-def]
    return services.fracture_create(
        procedure=_procedure(department), type="insufficiency", site="sacrum", side="left"
    )


def _follow_up(department) -> FollowUp:  # type: ignore[no-untyped-def]
    procedure = _fracture(department).procedure
    return services.follow_up_create(
        procedure=procedure, contact_at=procedure.ended_at + timedelta(days=2), kind="clinical"
    )


def _complication(department) -> ComplicationEvent:  # type: ignore[no-untyped-def]
    procedure = _fracture(department).procedure
    return complication_record(
        procedure=procedure,
        term=WOUND_INFECTION,
        facts={"intervention": "oral"},
        onset_at=procedure.ended_at + timedelta(days=3),
    )


# model name -> (create, update with a reason, the field the update changes, before, after)
CHANGES: dict[str, tuple[Callable, Callable, str, object, object]] = {
    "patient": (
        _patient,
        lambda r, why: services.patient_update(patient=r, sex="male", reason=why),
        "sex",
        "female",
        "male",
    ),
    "procedure": (
        _procedure,
        lambda r, why: services.procedure_update(procedure=r, guidance="cbct", reason=why),
        "guidance",
        "ct",
        "cbct",
    ),
    "fracture": (
        _fracture,
        lambda r, why: services.fracture_update(fracture=r, screws=2, reason=why),
        "screws",
        1,
        2,
    ),
    "followup": (
        _follow_up,
        lambda r, why: services.follow_up_update(follow_up=r, kind="phone", reason=why),
        "kind",
        "clinical",
        "phone",
    ),
    "complication": (
        _complication,
        lambda r, why: complication_update(event=r, outcome="resolved", reason=why),
        "outcome",
        "",
        "resolved",
    ),
}


def test_every_audited_model_has_a_case_here():
    assert set(CHANGES) == set(AUDITED)


@pytest.mark.parametrize("name", list(CHANGES))
def test_create_update_and_delete_each_leave_an_entry_with_who_what_and_why(
    name, department, radiologist
):
    create, update, field, before, after = CHANGES[name]
    with acting_as(radiologist):
        record = create(department)
        pk = record.pk
        update(record, "The chart said otherwise")
        services.record_delete(record=record, reason="Entered in the wrong case")

    rows = list(audited_model(name).history.filter(id=pk).order_by("history_date", "history_id"))
    assert rows[0].history_type == "+"
    assert rows[-1].history_type == "-"
    assert rows[-1].history_change_reason == "Entered in the wrong case"
    assert {row.history_user for row in rows} == {radiologist}
    changed = next(row for row in rows if row.history_change_reason == "The chart said otherwise")
    assert changed.history_type == "~"
    delta = changed.diff_against(changed.prev_record)
    assert [(c.field, c.old, c.new) for c in delta.changes if c.field == field] == [
        (field, before, after)
    ]


def test_a_change_through_the_api_is_attributed_to_the_token_user(api, radiologist, department):
    response = api.post(
        "/api/v1/patients/",
        {"registry_id": "PIG-9", "sex": "female", "birth_date": "1950-03-04"},
        format="json",
    )
    assert response.status_code == 201, response.content
    entry = Patient.history.get(id=response.json()["id"])
    assert (entry.history_type, entry.history_user) == ("+", radiologist)


def test_an_override_records_its_written_reason_as_the_change_reason(department, radiologist):
    with acting_as(radiologist):
        event = _complication(department)
        complication_override(event=event, grade=3, reason="Readmitted for IV antibiotics")
        # The case form and the API change the override through the update service.
        complication_update(
            event=event, grade_override=4, override_reason="Sepsis in intensive care"
        )
        complication_update(event=event, description="Seen again")

    reasons = list(
        event.history.order_by("history_date", "history_id").values_list(
            "history_change_reason", flat=True
        )
    )
    assert reasons[-3:] == ["Readmitted for IV antibiotics", "Sepsis in intensive care", ""]


def test_a_long_reason_is_shortened_to_the_column_but_kept_whole_on_the_record(
    department, radiologist
):
    reason = "Readmitted on day 3 with wound dehiscence, " * 5
    with acting_as(radiologist):
        event = complication_override(event=_complication(department), grade=3, reason=reason)

    entry = event.history.latest()
    column = type(entry)._meta.get_field("history_change_reason").max_length
    assert len(entry.history_change_reason) == column
    assert entry.history_change_reason.endswith("…")
    assert entry.override_reason == reason.strip()


# --- the audit page ---------------------------------------------------------------------


def _audit_url(name: str, pk: int, page: int | None = None) -> str:
    url = reverse("audit-record", args=(name, pk))
    return f"{url}?page={page}" if page else url


def test_the_audit_page_shows_each_entry_newest_first_with_its_diff(
    client, department, radiologist
):
    with acting_as(radiologist):
        patient = _patient(department)
        services.patient_update(patient=patient, sex="male", reason="Transcription error")
    client.force_login(radiologist)

    response = client.get(_audit_url("patient", patient.pk))

    assert response.status_code == 200
    html = response.content.decode()
    assert html.index("changed") < html.index("created")
    assert "Transcription error" in html
    assert "radiologist" in html
    changed = html[html.index("audit-entry-changed") : html.index("audit-entry-created")]
    assert '<td class="audit-before">Female</td>' in changed
    assert '<td class="audit-after">Male</td>' in changed


def test_the_audit_page_paginates_and_diffs_the_last_entry_of_a_page(
    client, department, radiologist
):
    with acting_as(radiologist):
        fracture = _fracture(department)
        for screws in range(2, 27):
            services.fracture_update(fracture=fracture, screws=screws)
    client.force_login(radiologist)

    first = client.get(_audit_url("fracture", fracture.pk)).content.decode()
    second = client.get(_audit_url("fracture", fracture.pk, page=2)).content.decode()

    assert first.count('class="audit-entry ') == 20 and second.count('class="audit-entry ') == 6
    assert "page=2" in first
    # The newest is 26 screws; the 20th newest changed 6 to 7, diffed against page 2's first.
    assert '<td class="audit-after">26</td>' in first
    assert '<td class="audit-before">6</td>' in first and '<td class="audit-after">7</td>' in first
    assert "created" in second


def test_a_record_of_another_department_is_a_404_like_one_that_never_existed(
    client, department, outsider
):
    patient = _patient(department)
    client.force_login(outsider)

    assert client.get(_audit_url("patient", patient.pk)).status_code == 404
    assert client.get(_audit_url("patient", patient.pk + 1000)).status_code == 404
    assert client.get(_audit_url("department", department.pk)).status_code == 404


def test_a_deleted_record_keeps_its_audit_page_for_its_own_department_only(
    client, department, radiologist, outsider
):
    with acting_as(radiologist):
        follow_up = _follow_up(department)
        pk = follow_up.pk
        services.record_delete(record=follow_up, reason="Duplicate contact")

    client.force_login(radiologist)
    response = client.get(_audit_url("followup", pk))
    assert response.status_code == 200
    assert "Duplicate contact" in response.content.decode()
    assert "has been deleted" in response.content.decode()
    client.force_login(outsider)
    assert client.get(_audit_url("followup", pk)).status_code == 404


def test_other_pages_link_to_a_record_s_audit_page_with_the_include():
    html = render_to_string("registry/audit_link.html", {"model": "procedure", "pk": 7})
    assert f'href="{_audit_url("procedure", 7)}"' in html


def test_the_admin_links_a_record_to_its_audit_page(client, department, admin_user):
    patient = _patient(department)
    client.force_login(admin_user)

    response = client.get(reverse("admin:registry_patient_change", args=(patient.pk,)))

    assert _audit_url("patient", patient.pk) in response.content.decode()


def test_the_admin_shows_history_but_refuses_to_revert_it(client, department, admin_user):
    with acting_as(admin_user):
        patient = _patient(department)
        services.patient_update(patient=patient, sex="male")
    first = patient.history.earliest()
    client.force_login(admin_user)
    url = reverse("admin:registry_patient_simple_history", args=(patient.pk, first.history_id))

    page = client.get(url)
    posted = client.post(
        url,
        {
            "department": department.pk,
            "registry_id": "PIG-001",
            "sex": "female",
            "birth_date": "1950-03-04",
            "_save": "Revert",
        },
    )

    assert page.status_code == 200 and b'value="Revert"' not in page.content
    assert posted.status_code == 403
    patient.refresh_from_db()
    assert patient.sex == "male"
    assert patient.history.count() == 2


# --- the export ----------------------------------------------------------------------------


def _rows(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.mark.parametrize("persona", ["radiologist", "head", "api_user", "outsider"])
def test_only_data_managers_may_export_the_audit_trail(client, db, request, persona):
    # ``db`` named here so pytest-django runs this among the database tests (the personas'
    # groups come from a data migration, which a transactional test's flush removes).
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("audit-export")).status_code == 403


def test_the_export_streams_every_entry_of_the_data_managers_departments(
    client, department, other_department, data_manager, radiologist
):
    with acting_as(radiologist):
        event = _complication(department)
        complication_override(event=event, grade=3, reason="Readmitted")
        _patient(other_department, registry_id="OTHER-1")
    client.force_login(data_manager)

    response = client.get(reverse("audit-export"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = _rows(response)
    assert {row["department"] for row in rows} == {"A"}
    assert {row["model"] for row in rows} == {"patient", "procedure", "fracture", "complication"}
    override = next(row for row in rows if row["reason"] == "Readmitted")
    assert (override["model"], override["type"], override["user"]) == (
        "complication",
        "~",
        "radiologist",
    )
    assert json.loads(override["changes"])["grade_override"] == ["—", "3"]


def test_the_export_filters_by_department_and_date(
    client, department, other_department, admin_user
):
    with acting_as(admin_user):
        _patient(department)
        _patient(other_department, registry_id="OTHER-1")
    client.force_login(admin_user)
    url = reverse("audit-export")
    today = date.today()

    only_b = _rows(client.get(url, {"department": other_department.pk}))
    tomorrow = _rows(client.get(url, {"date_from": (today + timedelta(days=1)).isoformat()}))
    until_today = _rows(client.get(url, {"date_to": (today + timedelta(days=1)).isoformat()}))

    assert [(r["department"], r["model"]) for r in only_b] == [("B", "patient")]
    assert tomorrow == []
    assert len(until_today) == 2
    assert client.get(url, {"date_from": "yesterday"}).status_code == 400


# --- PostgreSQL: history cannot be rewritten even in SQL -------------------------------------


def _historical_tables() -> list[str]:
    from django.apps import apps

    return sorted(
        model._meta.db_table
        for model in apps.get_models()
        if model._meta.app_label in ("registry", "complications")
        and model.__name__.startswith("Historical")
    )


@pytest.mark.postgres
def test_every_historical_table_is_guarded_by_the_trigger(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname = 'history_immutable' AND NOT t.tgisinternal"
        )
        guarded = {name for (name,) in cursor.fetchall()}
    assert set(_historical_tables()) <= guarded
    assert "registry_historicalfollowup_fractures" in guarded


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE registry_historicalpatient SET sex = 'male'",
        "DELETE FROM registry_historicalpatient",
        "UPDATE complications_historicalcomplicationevent SET override_reason = 'rewritten'",
        "DELETE FROM complications_historicalcomplicationevent_fractures",
    ],
)
def test_sql_cannot_update_or_delete_history(sql, department, radiologist):
    with acting_as(radiologist):
        _complication(department)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert Patient.history.filter(sex="female").count() == 1


@pytest.mark.postgres
def test_new_history_can_still_be_written_after_the_guard(department, radiologist):
    with acting_as(radiologist):
        patient = _patient(department)
        services.patient_update(patient=patient, sex="male")
    assert patient.history.count() == 2


@pytest.mark.postgres
def test_a_user_who_changed_records_cannot_be_deleted_only_deactivated(department, radiologist):
    with acting_as(radiologist):
        _patient(department)

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        radiologist.delete()
    radiologist.is_active = False
    radiologist.save()
    assert Patient.history.get().history_user == radiologist
