"""Invariants every door gets from the services: no clinical date in the future,
re-derivation of every grade and window their inputs change (or a refusal naming
the complications), and an outcome that agrees with the grade."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from complications.models import ComplicationEvent, CtcaeTerm
from complications.services import (
    catalogue_sync,
    complication_override,
    complication_record,
    complication_update,
    core_term,
)
from registry.models import FollowUp, Procedure
from registry.services import (
    CLOCK_SKEW,
    follow_up_create,
    follow_up_update,
    in_the_future,
    patient_update,
    procedure_create,
    procedure_update,
)
from tests import factories
from tests.registry.test_case_entry import case_data, complication_data

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2020, 3, 4, 9, 0, tzinfo=PARIS)
END = START + timedelta(hours=1)
WOUND_INFECTION, ANEMIA, PAIN_IN_EXTREMITY = "10048038", "10002272", "10033425"
# Fourteen hours ahead of UTC and eleven behind: their local days never coincide.
KIRITIMATI, PAGO_PAGO = "Pacific/Kiritimati", "Pacific/Pago_Pago"


@pytest.fixture
def proc(department):
    procedure = factories.procedure(factories.patient(department), started_at=START, minutes=60)
    factories.fracture(procedure)
    return procedure


def _recent(department) -> Procedure:
    """A procedure that ended an hour ago."""
    start = timezone.now() - timedelta(hours=3)
    return factories.procedure(factories.patient(department), started_at=start, minutes=120)


def _local_today(zone: str) -> date:
    return timezone.localdate(timezone=ZoneInfo(zone))


# --- no clinical date in the future ---------------------------------------------------


@pytest.mark.parametrize(
    ("ahead", "future"),
    [
        (timedelta(0), False),
        (CLOCK_SKEW - timedelta(seconds=30), False),
        (CLOCK_SKEW + timedelta(seconds=30), True),
        (timedelta(days=1), True),
        (-timedelta(days=1), False),
    ],
)
def test_a_time_is_in_the_future_beyond_the_clock_skew(ahead, future):
    assert in_the_future(timezone.now() + ahead, time_zone="UTC") is future


def test_a_date_is_in_the_future_after_the_departments_local_today():
    kiritimati_today = _local_today(KIRITIMATI)
    assert in_the_future(kiritimati_today, time_zone=KIRITIMATI) is False
    assert in_the_future(kiritimati_today, time_zone=PAGO_PAGO) is True
    assert in_the_future(kiritimati_today + timedelta(days=1), time_zone=KIRITIMATI) is True


def test_a_procedure_ending_in_the_future_is_refused_on_ended_at(department):
    patient = factories.patient(department)
    start = timezone.now() - timedelta(hours=1)
    with pytest.raises(ValidationError) as exc:
        procedure_create(
            patient=patient,
            started_at=start,
            ended_at=timezone.now() + timedelta(minutes=30),
            guidance="ct",
            anesthesia="general",
        )
    assert list(exc.value.message_dict) == ["ended_at"]
    procedure = procedure_create(
        patient=patient,
        started_at=start,
        ended_at=timezone.now() + timedelta(minutes=2),
        guidance="ct",
        anesthesia="general",
    )
    with pytest.raises(ValidationError) as exc:
        procedure_update(procedure=procedure, ended_at=timezone.now() + timedelta(hours=2))
    assert "ended_at" in exc.value.message_dict


def test_a_follow_up_contact_in_the_future_is_refused(department):
    procedure = _recent(department)
    with pytest.raises(ValidationError) as exc:
        follow_up_create(
            procedure=procedure, contact_at=timezone.now() + timedelta(days=2), kind="phone"
        )
    assert "in the future" in exc.value.message_dict["contact_at"][0]
    follow_up = follow_up_create(procedure=procedure, contact_at=timezone.now(), kind="phone")
    with pytest.raises(ValidationError) as exc:
        follow_up_update(follow_up=follow_up, contact_at=timezone.now() + timedelta(hours=1))
    assert "contact_at" in exc.value.message_dict


def test_a_complication_onset_time_in_the_future_is_refused(department):
    procedure = _recent(department)
    with pytest.raises(ValidationError) as exc:
        complication_record(
            procedure=procedure,
            term=WOUND_INFECTION,
            facts={"intervention": "oral"},
            onset_at=timezone.now() + timedelta(hours=6),
        )
    assert list(exc.value.message_dict) == ["onset_at"]
    assert not ComplicationEvent.objects.exists()


def test_an_onset_date_is_compared_with_the_departments_local_today(department):
    department.time_zone = PAGO_PAGO
    department.save()
    start = timezone.now() - timedelta(days=3)
    procedure = factories.procedure(factories.patient(department), started_at=start, minutes=60)
    event = complication_record(
        procedure=procedure,
        term=WOUND_INFECTION,
        facts={"intervention": "oral"},
        onset_date=_local_today(PAGO_PAGO),
    )
    with pytest.raises(ValidationError) as exc:
        complication_update(event=event, onset_date=_local_today(KIRITIMATI))
    assert "in the future" in exc.value.message_dict["onset_date"][0]


def test_the_case_pages_refuse_future_dates_on_their_fields(client, radiologist, department):
    client.force_login(radiologist)
    local = timezone.localtime(timezone.now(), ZoneInfo(department.time_zone))
    ago, ahead = local - timedelta(hours=2), local + timedelta(hours=2)

    response = client.post(
        reverse("case-create"),
        case_data(
            department, started_at=f"{ago:%Y-%m-%dT%H:%M}", ended_at=f"{ahead:%Y-%m-%dT%H:%M}"
        ),
    )
    assert "in the future" in response.context["form"].errors["ended_at"][0]
    assert not Procedure.objects.exists()

    procedure = _recent(department)
    response = client.post(
        reverse("case-follow-up-add", args=[procedure.pk]),
        {"contact_at": f"{ahead:%Y-%m-%dT%H:%M}", "kind": "phone"},
    )
    assert "in the future" in response.context["follow_up_form"].errors["contact_at"][0]
    assert not FollowUp.objects.exists()

    response = client.post(
        reverse("case-complication-add", args=[procedure.pk]),
        complication_data(onset_at=f"{ahead:%Y-%m-%dT%H:%M}"),
    )
    assert "in the future" in response.context["form"].errors["onset_at"][0]
    response = client.post(
        reverse("case-complication-add", args=[procedure.pk]),
        complication_data(
            onset_kind="date",
            onset_at="",
            onset_date=(local.date() + timedelta(days=1)).isoformat(),
        ),
    )
    assert "in the future" in response.context["form"].errors["onset_date"][0]
    assert not ComplicationEvent.objects.exists()


# --- re-derivation on every input of a grade or window ----------------------------------


def _anemia(proc: Procedure, hemoglobin: float) -> ComplicationEvent:
    return complication_record(
        procedure=proc,
        term=ANEMIA,
        facts={"hemoglobin_g_dl": hemoglobin},
        onset_at=END + timedelta(days=2),
    )


def test_a_change_of_sex_regrades_the_patients_complications(proc):
    proc.patient.sex = "male"
    proc.patient.save()
    event = _anemia(proc, 11.0)
    patient_update(patient=proc.patient, sex="female")
    event.refresh_from_db()
    assert "12.0" in event.grade_rationale


def test_a_change_of_sex_that_strands_a_grade_is_refused_naming_the_complication(proc):
    proc.patient.sex = "male"
    proc.patient.save()
    event = _anemia(proc, 13.0)
    assert event.auto_grade == 1

    with pytest.raises(ValidationError) as exc:
        patient_update(patient=proc.patient, sex="female")

    message = exc.value.message_dict["sex"][0]
    assert f"complication #{event.pk} (Anemia, 2020-03-06) would no longer fit a grade" in message
    proc.patient.refresh_from_db()
    assert proc.patient.sex == "male"
    # The record is not stuck: it can still be edited.
    complication_update(event=event, description="Checked.")


def test_moving_a_patient_refuses_when_a_date_onset_would_straddle_two_windows(
    department, other_department
):
    other_department.time_zone = "Pacific/Pago_Pago"
    other_department.save()
    # In Pago Pago (UTC-11) the whole of 2020-01-07 is 24 h or more after the end.
    procedure = factories.procedure(factories.patient(other_department))
    event = complication_record(
        procedure=procedure,
        term=WOUND_INFECTION,
        facts={"intervention": "oral"},
        onset_date=date(2020, 1, 7),
    )
    assert event.window == "delayed"

    with pytest.raises(ValidationError) as exc:
        patient_update(patient=procedure.patient, department=department)

    message = exc.value.message_dict["department"][0]
    assert message.startswith(
        f"complication #{event.pk} (Wound infection, 2020-01-07) would no longer fit a window"
    )
    procedure.patient.refresh_from_db()
    assert procedure.patient.department == other_department


def test_a_catalogue_change_that_strands_a_complication_is_refused_as_a_whole(proc):
    event = complication_record(
        procedure=proc,
        term=WOUND_INFECTION,
        facts={"intervention": "oral"},
        onset_at=END + timedelta(days=3),
    )
    stored = CtcaeTerm.objects.get(code=WOUND_INFECTION)
    term = core_term(stored)
    grades = {**term.grades, 2: "IV antibiotic indicated"}
    before = stored.grade_2

    with pytest.raises(ValidationError) as exc:
        catalogue_sync(
            terms=[type(term)(code=term.code, name=term.name, soc=term.soc, grades=grades)],
            curated=True,
        )

    assert f"complication #{event.pk} (Wound infection, 2020-03-07)" in exc.value.messages[0]
    stored.refresh_from_db()
    assert stored.grade_2 == before


# --- outcome and grade agree --------------------------------------------------------------


def test_a_death_outcome_needs_grade_5(proc):
    with pytest.raises(ValidationError) as exc:
        complication_record(
            procedure=proc,
            term=WOUND_INFECTION,
            facts={"intervention": "oral"},
            onset_at=END + timedelta(days=3),
            outcome="death",
        )
    message = exc.value.message_dict["outcome"][0]
    assert "Death" in message and "grade is 2" in message


def test_a_grade_5_needs_a_death_outcome(proc):
    with pytest.raises(ValidationError) as exc:
        complication_record(
            procedure=proc,
            term=WOUND_INFECTION,
            facts={"death": True},
            onset_at=END + timedelta(days=3),
            outcome="resolved",
        )
    assert "Resolved" in exc.value.message_dict["outcome"][0]
    event = complication_record(
        procedure=proc,
        term=WOUND_INFECTION,
        facts={"death": True},
        onset_at=END + timedelta(days=3),
        outcome="death",
    )
    assert event.grade == 5


def test_the_effective_grade_counts_so_an_override_must_agree_with_the_outcome(proc):
    event = complication_record(
        procedure=proc,
        term=WOUND_INFECTION,
        facts={"intervention": "oral"},
        onset_at=END + timedelta(days=3),
    )
    with pytest.raises(ValidationError) as exc:
        complication_override(event=event, grade=5, reason="Died of sepsis.")
    assert "outcome" in exc.value.message_dict
    event = complication_update(
        event=event, grade_override=5, override_reason="Died of sepsis.", outcome="death"
    )
    event.refresh_from_db()
    assert event.grade == 5


def test_the_import_command_refuses_a_table_that_strands_a_complication(proc, tmp_path):
    event = complication_record(
        procedure=proc,
        term=WOUND_INFECTION,
        facts={"intervention": "oral"},
        onset_at=END + timedelta(days=3),
    )
    table = tmp_path / "ctcae.csv"
    table.write_text(
        "MedDRA Code,MedDRA SOC,CTCAE Term,Grade 1,Grade 2,Grade 3,Grade 4,Grade 5,Definition\n"
        "10048038,Infections and infestations,Wound infection,"
        '"Localized, local intervention indicated",IV antibiotic indicated,'
        "Invasive intervention indicated,Life-threatening consequences,Death,An infection.\n"
    )

    with pytest.raises(CommandError, match=rf"complication #{event.pk} \(Wound infection"):
        call_command("ctcae_import", str(table), "--no-regrade")

    assert CtcaeTerm.objects.get(code=WOUND_INFECTION).grade_2.startswith("Oral intervention")


def test_moving_a_procedure_to_a_patient_of_the_other_sex_rederives_or_refuses(proc, department):
    proc.patient.sex = "male"
    proc.patient.save()
    event = _anemia(proc, 13.0)
    woman = factories.patient(department, sex="female")

    with pytest.raises(ValidationError) as exc:
        procedure_update(procedure=proc, patient=woman)

    assert f"complication #{event.pk} (Anemia" in exc.value.message_dict["patient"][0]
    proc.refresh_from_db()
    assert proc.patient.sex == "male"


def test_a_birth_date_is_in_the_future_after_the_departments_local_today(department):
    from registry.services import department_create, patient_create

    ahead = department_create(code="KIR", name="Kiritimati", time_zone=KIRITIMATI)
    behind = department_create(code="PPG", name="Pago Pago", time_zone=PAGO_PAGO)
    born = _local_today(KIRITIMATI)

    patient_create(department=ahead, registry_id="K1", sex="female", birth_date=born)
    with pytest.raises(ValidationError) as exc:
        patient_create(department=behind, registry_id="P1", sex="female", birth_date=born)
    assert "birth_date" in exc.value.message_dict
