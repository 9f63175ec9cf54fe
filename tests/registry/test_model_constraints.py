"""Every rule that can live in the database does: writes that bypass the services
(bulk loads, the shell, a future bug) are refused by the database itself."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction

from complications.models import ComplicationEvent
from registry.models import Department, FollowUp, Fracture, Patient, Procedure
from tests import factories

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2020, 3, 4, 9, 15, tzinfo=PARIS)


def _refused(model, **fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.bulk_create([model(**fields)])


@pytest.fixture
def proc(department):
    return factories.procedure(factories.patient(department), started_at=START)


def test_a_department_code_is_unique(department):
    _refused(Department, code="A", name="Again", time_zone="UTC")


def test_a_registry_id_is_unique_within_a_department_but_not_across(department, other_department):
    factories.patient(department, registry_id="R1")
    _refused(
        Patient, department=department, registry_id="R1", sex="male", birth_date=date(1960, 1, 1)
    )
    assert factories.patient(other_department, registry_id="R1").pk


@pytest.mark.parametrize(
    ("field", "value"),
    [("sex", "other"), ("registry_id", ""), ("birth_date", date(1850, 1, 1))],
)
def test_a_patient_with_an_invalid_field_is_refused(department, field, value):
    fields = {
        "department": department,
        "registry_id": "R9",
        "sex": "female",
        "birth_date": date(1960, 1, 1),
    }
    _refused(Patient, **{**fields, field: value})


def test_a_hospital_number_hash_is_unique_within_a_department_when_set(department):
    Patient.objects.create(
        department=department,
        registry_id="H1",
        sex="male",
        birth_date=date(1960, 1, 1),
        hospital_number_hash="ab" * 32,
    )
    _refused(
        Patient,
        department=department,
        registry_id="H2",
        sex="male",
        birth_date=date(1960, 1, 1),
        hospital_number_hash="ab" * 32,
    )
    # An absent hash is not a duplicate.
    for rid in ("H3", "H4"):
        Patient.objects.create(
            department=department, registry_id=rid, sex="male", birth_date=date(1960, 1, 1)
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [("ended_at", START - timedelta(minutes=1)), ("guidance", "mri"), ("anesthesia", "hypnosis")],
)
def test_a_procedure_with_an_invalid_field_is_refused(department, field, value):
    pat = factories.patient(department)
    fields = {
        "patient": pat,
        "started_at": START,
        "ended_at": START + timedelta(hours=1),
        "guidance": "ct",
        "anesthesia": "general",
    }
    _refused(Procedure, **{**fields, field: value})


def test_a_procedure_may_end_when_it_starts(department):
    pat = factories.patient(department)
    assert Procedure.objects.create(
        patient=pat, started_at=START, ended_at=START, guidance="ct", anesthesia="local"
    ).pk


@pytest.mark.parametrize(
    ("field", "value"),
    [("screws", 0), ("type", "stress"), ("site", "skull"), ("side", "up"), ("aetiology", "trauma")],
)
def test_a_fracture_with_an_invalid_field_is_refused(proc, field, value):
    fields = {
        "procedure": proc,
        "type": "insufficiency",
        "site": "sacrum",
        "side": "left",
        "screws": 2,
    }
    _refused(Fracture, **{**fields, field: value})


def test_a_follow_up_kind_is_checked(proc):
    _refused(FollowUp, procedure=proc, contact_at=START + timedelta(days=1), kind="email")


def _complication_fields(proc, **overrides):
    fields = {
        "procedure": proc,
        "term": factories.term(),
        "auto_grade": 2,
        "window": "early",
        "onset_at": proc.ended_at + timedelta(hours=1),
    }
    return {**fields, **overrides}


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"onset_date": date(2020, 3, 4)}, id="onset-at-and-date"),
        pytest.param({"during_procedure": True}, id="onset-at-and-during"),
        pytest.param({"onset_at": None}, id="no-onset"),
        pytest.param({"auto_grade": 0}, id="grade-0"),
        pytest.param({"auto_grade": 6}, id="grade-6"),
        pytest.param({"grade_override": 4}, id="override-without-reason"),
        pytest.param({"grade_override": 7, "override_reason": "x"}, id="override-out-of-range"),
        pytest.param({"window": "late"}, id="unknown-window"),
        pytest.param({"cirse_grade": 7}, id="cirse-7"),
        pytest.param({"sir_class": "G"}, id="sir-G"),
        pytest.param({"outcome": "death"}, id="death-with-grade-2"),
        pytest.param({"auto_grade": 5}, id="grade-5-without-death"),
        pytest.param(
            {"auto_grade": 5, "outcome": "death", "grade_override": 4, "override_reason": "x"},
            id="death-overridden-to-4",
        ),
        pytest.param(
            {"grade_override": 5, "override_reason": "x", "outcome": "resolved"},
            id="override-5-resolved",
        ),
    ],
)
def test_a_complication_breaking_a_rule_is_refused(proc, overrides):
    _refused(ComplicationEvent, **_complication_fields(proc, **overrides))


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"auto_grade": 5, "outcome": "death"}, id="death-grade-5"),
        pytest.param(
            {"grade_override": 5, "override_reason": "x", "outcome": "death"},
            id="death-overridden-to-5",
        ),
        pytest.param(
            {"auto_grade": 5, "grade_override": 4, "override_reason": "x"},
            id="grade-5-overridden-to-4",
        ),
    ],
)
def test_death_and_grade_5_together_are_accepted(proc, overrides):
    ComplicationEvent.objects.create(**_complication_fields(proc, **overrides))


def test_the_stored_grade_is_the_override_when_there_is_one(proc):
    event = ComplicationEvent.objects.create(**_complication_fields(proc))
    event.refresh_from_db()
    assert event.grade == 2 and event.severity == "minor"
    event.grade_override, event.override_reason = 3, "Readmitted for drainage"
    event.save()
    event.refresh_from_db()
    assert event.grade == 3 and event.auto_grade == 2 and event.severity == "major"


def test_a_procedure_with_complications_cannot_be_deleted(proc):
    factories.fracture(proc)
    factories.complication(proc, window="early", grade=1)
    with pytest.raises(Exception, match="protected"), transaction.atomic():
        proc.delete()
