"""The core write services: the domain rules the database cannot check, and all-or-nothing writes."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from registry.models import FollowUp, Patient, hash_identifier
from registry.services import (
    follow_up_create,
    follow_up_update,
    fracture_create,
    patient_create,
    patient_update,
    procedure_create,
    procedure_update,
)
from tests import factories

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2020, 3, 4, 9, 15, tzinfo=PARIS)


def _errors(exc_info) -> dict:
    return exc_info.value.message_dict


def test_a_patient_is_created_with_only_a_hash_of_the_hospital_number(department):
    patient = patient_create(
        department=department,
        registry_id=" R-1 ",
        sex="male",
        birth_date=date(1950, 5, 1),
        hospital_number="123 456",
    )
    assert patient.registry_id == "R-1"
    assert patient.hospital_number_hash == hash_identifier("123456")
    assert len(patient.hospital_number_hash) == 64 and "123456" not in patient.hospital_number_hash


def test_a_duplicate_hospital_number_is_detected_within_the_department(department):
    patient_create(
        department=department,
        registry_id="R-1",
        sex="male",
        birth_date=date(1950, 5, 1),
        hospital_number="123456",
    )
    with pytest.raises(ValidationError) as exc:
        patient_create(
            department=department,
            registry_id="R-2",
            sex="male",
            birth_date=date(1950, 5, 1),
            hospital_number="123 456",
        )
    assert "hospital_number" in _errors(exc)


def test_a_birth_date_in_the_future_is_refused(department):
    with pytest.raises(ValidationError) as exc:
        patient_create(
            department=department,
            registry_id="R-1",
            sex="female",
            birth_date=timezone.localdate() + timedelta(days=1),
        )
    assert "birth_date" in _errors(exc)
    assert not Patient.objects.exists()


def test_a_birth_date_after_a_procedure_is_refused(department):
    proc = factories.procedure(factories.patient(department), started_at=START)
    with pytest.raises(ValidationError) as exc:
        patient_update(patient=proc.patient, birth_date=date(2020, 3, 5))
    assert "2020-03-04" in _errors(exc)["birth_date"][0]


def test_a_duplicate_registry_id_is_a_field_error(department):
    factories.patient(department, registry_id="R-1")
    with pytest.raises(ValidationError) as exc:
        patient_create(
            department=department, registry_id="R-1", sex="female", birth_date=date(1950, 1, 1)
        )
    assert "registry_id" in _errors(exc)


@pytest.mark.parametrize(
    ("started_at", "ended_at", "field"),
    [
        (START, START - timedelta(minutes=1), "ended_at"),
        (datetime(2020, 3, 4, 9, 15), datetime(2020, 3, 4, 10, 15), "started_at"),
        (
            timezone.now() + timedelta(days=2),
            timezone.now() + timedelta(days=2, hours=1),
            "started_at",
        ),
        (datetime(1940, 1, 1, tzinfo=PARIS), datetime(1940, 1, 1, 1, tzinfo=PARIS), "started_at"),
    ],
    ids=["end-before-start", "naive", "future", "before-birth"],
)
def test_an_impossible_procedure_is_refused(department, started_at, ended_at, field):
    patient = factories.patient(department, birth_date=date(1950, 1, 1))
    with pytest.raises(ValidationError) as exc:
        procedure_create(
            patient=patient,
            started_at=started_at,
            ended_at=ended_at,
            guidance="ct",
            anesthesia="general",
        )
    assert field in _errors(exc)


def test_a_follow_up_covers_all_fractures_unless_told_otherwise(department):
    proc = factories.procedure(factories.patient(department), started_at=START)
    left, right = factories.fracture(proc, side="left"), factories.fracture(proc, side="right")
    every = follow_up_create(
        procedure=proc, contact_at=proc.ended_at + timedelta(hours=20), kind="clinical"
    )
    assert set(every.fractures.all()) == {left, right}
    one = follow_up_create(
        procedure=proc,
        contact_at=proc.ended_at + timedelta(days=40),
        kind="imaging",
        fractures=[right.pk],
    )
    assert list(one.fractures.all()) == [right]


def test_a_follow_up_cannot_name_a_fracture_of_another_procedure(department):
    patient = factories.patient(department)
    proc = factories.procedure(patient, started_at=START)
    factories.fracture(proc)
    other = factories.fracture(factories.procedure(patient, started_at=START + timedelta(days=30)))
    with pytest.raises(ValidationError) as exc:
        follow_up_create(
            procedure=proc, contact_at=START + timedelta(days=1), kind="phone", fractures=[other.pk]
        )
    assert "fractures" in _errors(exc)
    assert not FollowUp.objects.exists()


def test_a_follow_up_before_the_procedure_start_is_refused(department):
    proc = factories.procedure(factories.patient(department), started_at=START)
    with pytest.raises(ValidationError) as exc:
        follow_up_create(procedure=proc, contact_at=START - timedelta(minutes=1), kind="phone")
    assert "contact_at" in _errors(exc)
    contact = follow_up_create(procedure=proc, contact_at=START, kind="phone")
    with pytest.raises(ValidationError):
        follow_up_update(follow_up=contact, contact_at=START - timedelta(days=1))


def test_moving_a_procedure_after_its_follow_up_is_refused(department):
    proc = factories.procedure(factories.patient(department), started_at=START)
    follow_up_create(procedure=proc, contact_at=START + timedelta(hours=2), kind="phone")
    with pytest.raises(ValidationError) as exc:
        procedure_update(
            procedure=proc,
            started_at=START + timedelta(hours=3),
            ended_at=START + timedelta(hours=4),
        )
    assert "started_at" in _errors(exc)
    proc.refresh_from_db()
    assert proc.started_at == START


def test_a_fracture_needs_at_least_one_screw(department):
    proc = factories.procedure(factories.patient(department), started_at=START)
    with pytest.raises(ValidationError) as exc:
        fracture_create(
            procedure=proc, type="pathological", site="acetabulum", side="left", screws=0
        )
    assert "screws" in _errors(exc)
