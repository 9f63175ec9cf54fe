"""Source-data verification and locking (registry.verification): which records a
verified case locks, in every write service; unlocking with a reason, audited; the
case page's lock and buttons; ``?verified=true`` in the statistics."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError

from complications import services as complication_services
from registry import services
from registry.models import Procedure
from registry.verification import (
    RecordLocked,
    is_locked,
    procedure_unlock,
    procedure_verify,
)
from tests import factories as f
from tests.conftest import api_client_for
from tests.factories import PARIS

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(department):
    patient = f.patient(department)
    procedure = f.procedure(patient, started_at=datetime(2020, 3, 4, 9, tzinfo=PARIS))
    fracture = f.fracture(procedure)
    follow_up = f.follow_up(procedure, hours_after_end=48)
    complication = f.complication(procedure, window="early", grade=2)
    return {
        "patient": patient,
        "procedure": procedure,
        "fracture": fracture,
        "follow_up": follow_up,
        "complication": complication,
    }


def _reload(record):
    return type(record).objects.get(pk=record.pk)


# Every write service that changes or deletes a record of the case, with the record it touches.
WRITES: list[tuple[str, str, Callable]] = [
    ("patient_update", "patient", lambda r: services.patient_update(patient=r, sex="male")),
    (
        "procedure_update",
        "procedure",
        lambda r: services.procedure_update(procedure=r, operator="JG"),
    ),
    ("fracture_update", "fracture", lambda r: services.fracture_update(fracture=r, screws=2)),
    (
        "follow_up_update",
        "follow_up",
        lambda r: services.follow_up_update(follow_up=r, kind="phone"),
    ),
    (
        "complication_update",
        "complication",
        lambda r: complication_services.complication_update(event=r, description="Reviewed"),
    ),
    *(
        (f"record_delete({name})", name, lambda r: services.record_delete(record=r))
        for name in ("patient", "procedure", "fracture", "follow_up", "complication")
    ),
    (
        "fracture_create",
        "procedure",
        lambda r: services.fracture_create(
            procedure=r, type="insufficiency", site="sacrum", side="right"
        ),
    ),
]


@pytest.mark.parametrize(("service", "record", "write"), WRITES, ids=[w[0] for w in WRITES])
def test_every_write_service_refuses_a_record_of_a_verified_case(
    case, data_manager, service, record, write
):
    procedure_verify(procedure=case["procedure"], user=data_manager)
    target = _reload(case[record])
    before = _reload(case[record])

    with pytest.raises(RecordLocked, match="locked"):
        write(target)

    after = _reload(case[record])
    assert [getattr(after, fld.attname) for fld in after._meta.concrete_fields] == [
        getattr(before, fld.attname) for fld in before._meta.concrete_fields
    ]


def test_verifying_stamps_the_procedure_and_locks_the_case_as_it_stands(case, data_manager):
    procedure = procedure_verify(procedure=case["procedure"], user=data_manager)

    assert procedure.verified_at is not None
    assert procedure.verified_by == data_manager
    assert all(is_locked(_reload(record)) for record in case.values())


def test_follow_ups_and_complications_added_after_verification_are_unverified_and_editable(
    case, data_manager
):
    procedure = procedure_verify(procedure=case["procedure"], user=data_manager)
    later = services.follow_up_create(
        procedure=procedure,
        contact_at=procedure.ended_at + timedelta(days=30),
        kind="clinical",
    )
    event = complication_services.complication_record(
        procedure=procedure,
        term="10048038",
        facts={"intervention": "oral"},
        onset_at=procedure.ended_at + timedelta(days=3),
    )

    assert not is_locked(later) and not is_locked(event)
    services.follow_up_update(follow_up=later, kind="phone")
    complication_services.complication_update(event=event, description="Checked")
    services.record_delete(record=later)
    assert is_locked(_reload(case["follow_up"]))


def test_unlocking_needs_a_reason_and_is_in_the_audit_trail(case, data_manager):
    procedure = procedure_verify(procedure=case["procedure"], user=data_manager)

    with pytest.raises(ValidationError) as refused:
        procedure_unlock(procedure=procedure, user=data_manager, reason="  ")
    assert "reason" in refused.value.message_dict

    procedure = procedure_unlock(procedure=procedure, user=data_manager, reason="Wrong side")
    assert procedure.verified_at is None and procedure.verified_by is None
    services.procedure_update(procedure=_reload(procedure), operator="JG")  # unlocked again
    reasons = list(
        Procedure.history.filter(id=procedure.pk)
        .order_by("history_date")
        .values_list("history_change_reason", flat=True)
    )
    assert reasons[-3:-1] == ["Source data verified", "Unlocked: Wrong side"]


@pytest.mark.parametrize("role", ["radiologist", "head", "api_user"])
def test_only_data_managers_verify_or_unlock(case, request, data_manager, role):
    user = request.getfixturevalue(role)
    with pytest.raises(PermissionDenied):
        procedure_verify(procedure=case["procedure"], user=user)
    procedure_verify(procedure=case["procedure"], user=data_manager)
    with pytest.raises(PermissionDenied):
        procedure_unlock(procedure=case["procedure"], user=user, reason="Because")


def test_a_verified_case_cannot_be_verified_again(case, data_manager):
    procedure_verify(procedure=case["procedure"], user=data_manager)
    with pytest.raises(ValidationError, match="already verified"):
        procedure_verify(procedure=case["procedure"], user=data_manager)


def test_the_api_answers_409_saying_the_record_is_locked(case, data_manager):
    api = api_client_for(data_manager)
    assert api.post(f"/api/v1/procedures/{case['procedure'].pk}/verify/").status_code == 200

    response = api.patch(f"/api/v1/fractures/{case['fracture'].pk}/", {"screws": 3}, format="json")

    assert response.status_code == 409
    assert "locked" in response.json()["non_field_errors"][0]
    body = api.get(f"/api/v1/procedures/{case['procedure'].pk}/").json()
    assert body["verified_by"] == data_manager.username and body["verified_at"]


# --- the case page ----------------------------------------------------------------


def test_the_case_page_offers_verification_to_data_managers_and_shows_the_lock(
    client, case, data_manager, radiologist
):
    url = f"/cases/{case['procedure'].pk}/"
    client.force_login(data_manager)
    page = client.get(url).content.decode()
    assert 'id="verify-case"' in page and 'id="lock-badge"' not in page
    assert 'id="edit-procedure"' in page

    response = client.post(f"{url}verify/")
    assert response.status_code == 302
    page = client.get(url).content.decode()
    assert 'id="lock-badge"' in page and 'id="unlock-form"' in page
    assert 'id="edit-procedure"' not in page and 'id="edit-patient"' not in page

    client.force_login(radiologist)
    page = client.get(url).content.decode()
    assert 'id="lock-badge"' in page and 'id="unlock-form"' not in page
    assert client.post(f"{url}unlock/", {"reason": "x"}).status_code == 403

    client.force_login(data_manager)
    client.post(f"{url}unlock/", {"reason": "Operator misspelt"})
    assert _reload(case["procedure"]).verified_at is None


# --- ?verified=true ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "unit", "fractures_counted"),
    [
        ({}, "fracture", 3),
        ({"verified": "false"}, "fracture", 3),
        ({"verified": "true"}, "fracture", 1),
        ({"verified": "true"}, "procedure", 1),
        ({"verified": "true"}, "patient", 1),
    ],
)
def test_verified_true_counts_only_verified_cases(
    department, head, data_manager, query, unit, fractures_counted
):
    cache.clear()
    procedures = []
    for i in range(3):
        procedure = f.procedure(
            f.patient(department), started_at=datetime(2020, 3, 2 + i, 9, tzinfo=PARIS)
        )
        f.fracture(procedure)
        f.follow_up(procedure, hours_after_end=48)
        f.complication(procedure, window="early", grade=3)
        procedures.append(procedure)
    procedure_verify(procedure=procedures[1], user=data_manager)

    body = api_client_for(head).get("/api/v1/stats/rates/", {**query, "unit": unit}).json()
    cache.clear()

    assert body["windows"]["early"]["events"] == fractures_counted
    assert body["windows"]["early"]["at_risk"] == fractures_counted
    assert sum(row["events"] for row in body["by_term"] if row["window"] == "early") == (
        fractures_counted
    )


@pytest.mark.parametrize("record", ["follow_up", "fracture"])
def test_the_admin_refuses_to_delete_a_record_of_a_verified_case(
    client, case, data_manager, admin_user, record
):
    procedure_verify(procedure=case["procedure"], user=data_manager)
    target = case[record]
    opts = target._meta
    client.force_login(admin_user)

    response = client.post(
        f"/admin/{opts.app_label}/{opts.model_name}/{target.pk}/delete/",
        {"post": "yes"},
        follow=True,
    )

    assert response.status_code == 200
    assert type(target).objects.filter(pk=target.pk).exists()
    assert "locked" in response.content.decode()


def test_the_dashboard_shows_the_share_of_verified_cases_and_filters_on_them(
    client, case, department, data_manager, head
):
    f.procedure(f.patient(department), started_at=datetime(2020, 3, 5, 9, tzinfo=PARIS))
    procedure_verify(procedure=case["procedure"], user=data_manager)
    client.force_login(head)
    page = client.get("/dashboard/").content.decode()
    assert "1 of 2 cases verified" in page
    assert client.get("/dashboard/", {"verified": "on"}).status_code == 200


def test_the_cases_export_with_verified_true_holds_only_verified_cases(
    case, department, data_manager, head
):
    other = f.procedure(f.patient(department), started_at=datetime(2020, 3, 5, 9, tzinfo=PARIS))
    f.fracture(other)
    procedure_verify(procedure=case["procedure"], user=data_manager)
    api = api_client_for(head)

    def rows(query: dict[str, str]) -> int:
        response = api.get("/api/v1/export/cases.csv", query)
        assert response.status_code == 200
        return b"".join(response.streaming_content).decode().count("\n") - 1

    assert rows({}) == 2
    assert rows({"verified": "true"}) == 1
