"""``manage.py registry_verify``: every derived value recomputed, every difference listed."""

from __future__ import annotations

from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from complications import verify
from complications.models import ComplicationEvent, FractureOutcome, OutcomeMonth
from complications.services import complication_record, complication_update
from registry.models import Procedure
from tests import factories

PARIS = ZoneInfo("Europe/Paris")
WOUND_INFECTION, PAIN_IN_EXTREMITY = "10048038", "10033425"


def _case(department, day: int):
    procedure = factories.procedure(
        factories.patient(department), started_at=datetime(2021, 5, day, 9, tzinfo=PARIS)
    )
    left = factories.fracture(procedure, side="left")
    factories.fracture(procedure, side="right")
    factories.follow_up(procedure, hours_after_end=72)
    return procedure, left


@pytest.fixture
def registry(department, other_department):
    """Two departments, complications in every window, one with CIRSE/SIR facts."""
    events = {}
    for dept in (department, other_department):
        for day in (3, 4):
            procedure, left = _case(dept, day)
            events[dept.code, day, "delayed"] = complication_record(
                procedure=procedure,
                term=WOUND_INFECTION,
                facts={"intervention": "iv"},
                onset_at=procedure.ended_at + timedelta(days=3),
                outcome_facts={"extra_stay_hours": 96, "additional_therapy": "major"},
            )
            events[dept.code, day, "early"] = complication_record(
                procedure=procedure,
                term=PAIN_IN_EXTREMITY,
                facts={"symptoms": "mild"},
                onset_at=procedure.ended_at + timedelta(hours=2),
                fractures=[left],
            )
            events[dept.code, day, "per_procedural"] = complication_record(
                procedure=procedure,
                term=PAIN_IN_EXTREMITY,
                facts={"symptoms": "moderate"},
                during_procedure=True,
            )
    return events


def verify_command(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("registry_verify", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + str(exc)
    return 0, out.getvalue()


def test_a_clean_registry_has_no_difference(registry):
    status, output = verify_command()

    assert status == 0
    assert "no difference" in output.lower()
    assert "12 complications" in output and "4 procedures" in output


def _tamper_window(events):
    event = events["A", 3, "early"]
    ComplicationEvent.objects.filter(pk=event.pk).update(window="delayed")
    return f"complication {event.pk}: window: stored 'delayed', recomputed 'early'"


def _tamper_grade(events):
    event = events["A", 3, "delayed"]
    ComplicationEvent.objects.filter(pk=event.pk).update(auto_grade=2)
    return f"complication {event.pk}: auto_grade: stored 2, recomputed 3"


def _tamper_hours(events):
    event = events["A", 4, "early"]
    ComplicationEvent.objects.filter(pk=event.pk).update(hours_after_end=3.5)
    return f"complication {event.pk}: hours_after_end: stored 3.5, recomputed 2.0"


def _tamper_rationale(events):
    event = events["A", 4, "delayed"]
    ComplicationEvent.objects.filter(pk=event.pk).update(grade_rationale="Grade 5: made up")
    return f"complication {event.pk}: grade_rationale: stored 'Grade 5: made up', recomputed"


def _tamper_cirse(events):
    event = events["A", 3, "delayed"]
    ComplicationEvent.objects.filter(pk=event.pk).update(cirse_grade=6, sir_class="F")
    return f"complication {event.pk}: cirse_grade: stored 6, recomputed 3"


def _tamper_summary_row(events):
    fracture_id = events["A", 3, "early"].fractures.get().pk
    FractureOutcome.objects.filter(pk=fracture_id).update(grade_early=5)
    return f"FractureOutcome fracture_id={fracture_id}: grade_early: stored 5, recomputed 1"


def _tamper_local_day(events):
    procedure = events["A", 3, "early"].procedure
    Procedure.objects.filter(pk=procedure.pk).update(
        started_on=procedure.started_on + timedelta(days=1)
    )
    return f"procedure {procedure.pk}: started_on: stored"


def _tamper_month(events):
    row = OutcomeMonth.objects.filter(period="month", unit="procedure").first()
    OutcomeMonth.objects.filter(pk=row.pk).update(units=99)
    return "OutcomeMonth period=month, unit=procedure"


@pytest.mark.parametrize(
    "tamper",
    [
        _tamper_window,
        _tamper_grade,
        _tamper_hours,
        _tamper_rationale,
        _tamper_cirse,
        _tamper_summary_row,
        _tamper_local_day,
        _tamper_month,
    ],
)
def test_a_stored_value_changed_behind_the_services_is_reported(registry, tamper):
    expected = tamper(registry)

    status, output = verify_command()

    assert status == 1
    assert expected in output
    assert "difference(s)" in output


def test_the_month_rollup_line_names_the_field_and_both_values(registry):
    _tamper_month(registry)

    _, output = verify_command()

    assert "units: stored 99, recomputed 2" in output


def test_department_limits_the_check_to_that_department(registry):
    _tamper_window(registry)

    assert verify_command("--department", "B")[0] == 0
    status, output = verify_command("--department", "A")
    assert status == 1
    assert "window" in output and "department A" in output


def test_an_unknown_department_is_refused(registry):
    status, output = verify_command("--department", "ZZ")

    assert status == 1 and "ZZ" in output


def test_it_reads_in_chunks_and_still_sees_everything(registry, monkeypatch):
    monkeypatch.setattr(verify, "CHUNK", 2)
    expected = [_tamper_grade(registry), _tamper_summary_row(registry)]

    status, output = verify_command()

    assert status == 1
    assert all(line in output for line in expected)
    assert "12 complications" in output and "4 procedures" in output


def test_it_writes_nothing(registry):
    _tamper_grade(registry)
    checked = verify.Checked()
    before = list(ComplicationEvent.objects.order_by("pk").values())

    differences = list(verify.registry_differences(checked=checked))

    assert differences and checked.complications == 12
    assert list(ComplicationEvent.objects.order_by("pk").values()) == before


def test_clearing_the_outcome_facts_clears_the_cirse_and_sir_classes(registry):
    event = complication_update(event=registry["A", 3, "delayed"], outcome_facts={})

    event.refresh_from_db()
    assert (event.cirse_grade, event.sir_class) == (None, "")
    assert verify_command()[0] == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_it_reads_one_read_only_snapshot_outside_any_transaction(registry):
    assert verify_command()[0] == 0
    expected = _tamper_cirse(registry)

    status, output = verify_command()

    assert status == 1 and expected in output


def test_the_complications_are_read_in_a_fixed_number_of_queries(
    registry, django_assert_max_num_queries
):
    with django_assert_max_num_queries(2):
        assert list(verify.complication_differences()) == []
