"""The demo command builds the reference study's cohort, through the services, once."""

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from complications.demo import AGES, DEMO_CODE
from complications.models import ComplicationEvent
from registry.demo import DEMO_USERS
from registry.models import Department, FollowUp, Fracture, Patient, Procedure


@pytest.fixture
def demo(db):
    call_command(
        "demo", allow_production=True, stdout=open("/dev/null", "w")
    )  # tests run with DEBUG off
    return Department.objects.get(code=DEMO_CODE)


def test_the_fixed_ages_have_the_study_mean_sd_and_range():
    from statistics import mean, stdev

    assert len(AGES) == 94
    assert round(mean(AGES), 1) == 62.7
    assert round(stdev(AGES), 1) == 12.7
    assert (min(AGES), max(AGES)) == (32, 88)


def test_it_creates_the_study_cohort(demo):
    patients = Patient.objects.filter(department=demo)
    assert patients.count() == 94
    assert patients.filter(sex="female").count() == 48
    assert Procedure.objects.filter(patient__department=demo).count() == 95
    fractures = Fracture.objects.filter(procedure__patient__department=demo)
    assert fractures.count() == 110
    assert {
        t: fractures.filter(type=t).count() for t in ("insufficiency", "pathological", "impending")
    } == {
        "insufficiency": 40,
        "pathological": 53,
        "impending": 17,
    }
    procedures = Procedure.objects.filter(patient__department=demo)
    assert procedures.first().started_at.year == 2020
    assert procedures.last().started_at.date().isoformat() >= "2012-07-01"


def test_every_complication_is_graded_and_windowed_by_the_service(demo):
    events = ComplicationEvent.objects.filter(procedure__patient__department=demo)
    assert events.count() == 22  # 3 per-procedural, 4 early, 15 delayed (two on one fracture)
    assert {e.window for e in events} == {"per_procedural", "early", "delayed"}
    assert all(e.grade_rationale.startswith("Grade ") for e in events)
    assert (
        events.filter(
            window="delayed", grade__gte=3, term__soc="Infections and infestations"
        ).count()
        == 3
    )


def test_every_procedure_has_its_24_hour_check(demo):
    from datetime import timedelta

    for procedure in Procedure.objects.filter(patient__department=demo).prefetch_related(
        "follow_ups"
    ):
        assert any(
            timedelta(0) < f.contact_at - procedure.ended_at < timedelta(hours=24)
            for f in procedure.follow_ups.all()
        )


def test_it_creates_one_user_per_role_who_can_log_in(demo, client):
    for username, role, password, _ in DEMO_USERS:
        user = User.objects.get(username=username)
        assert user.groups.filter(name=role).exists()
        assert demo.members.filter(pk=user.pk).exists()
        assert client.login(username=username, password=password)


def test_running_it_twice_does_not_duplicate_anything(demo):
    counts = (
        Patient.objects.count(),
        Procedure.objects.count(),
        FollowUp.objects.count(),
        ComplicationEvent.objects.count(),
        User.objects.count(),
    )
    call_command(
        "demo", allow_production=True, stdout=open("/dev/null", "w")
    )  # tests run with DEBUG off
    assert counts == (
        Patient.objects.count(),
        Procedure.objects.count(),
        FollowUp.objects.count(),
        ComplicationEvent.objects.count(),
        User.objects.count(),
    )


def test_it_refuses_to_run_in_production(db, settings):
    from django.core.management.base import CommandError

    settings.DEBUG = False
    with pytest.raises(CommandError, match="public passwords"):
        call_command("demo")
