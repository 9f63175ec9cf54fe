"""Recording, updating, overriding and re-deriving complications through the services."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from complications.models import ComplicationEvent, CtcaeTerm
from complications.services import (
    catalogue_sync,
    complication_override,
    complication_record,
    complication_update,
    complications_regrade,
    core_term,
    grading_preview,
)
from registry.services import procedure_update
from tests import factories

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2020, 3, 4, 9, 0, tzinfo=PARIS)
END = START + timedelta(hours=1)
WOUND_INFECTION, PAIN_IN_EXTREMITY, MSK_OTHER = "10048038", "10033425", "10028395"


@pytest.fixture
def proc(department):
    procedure = factories.procedure(factories.patient(department), started_at=START, minutes=60)
    factories.fracture(procedure, side="left")
    factories.fracture(procedure, side="right")
    return procedure


def _errors(exc_info) -> dict:
    return exc_info.value.message_dict


def test_it_derives_grade_severity_window_and_rationale_from_facts(proc):
    event = complication_record(
        procedure=proc,
        term=WOUND_INFECTION,
        facts={"intervention": "iv"},
        onset_at=END + timedelta(days=3),
    )
    event.refresh_from_db()
    assert (event.auto_grade, event.grade, event.severity) == (3, 3, "major")
    assert event.window == "delayed" and event.hours_after_end == 72.0
    assert "IV antibiotic" in event.grade_rationale
    assert event.fractures.count() == 2


@pytest.mark.parametrize(
    ("onset", "window", "hours"),
    [
        ({"onset_at": START}, "per_procedural", -1.0),
        ({"onset_at": END}, "per_procedural", 0.0),
        ({"onset_at": END + timedelta(minutes=1)}, "early", 0.02),
        ({"onset_at": END + timedelta(hours=24) - timedelta(seconds=1)}, "early", 24.0),
        ({"onset_at": END + timedelta(hours=24)}, "delayed", 24.0),
        ({"during_procedure": True}, "per_procedural", None),
        ({"onset_date": date(2020, 3, 6)}, "delayed", None),
    ],
)
def test_the_window_follows_the_onset(proc, onset, window, hours):
    event = complication_record(
        procedure=proc, term=PAIN_IN_EXTREMITY, facts={"symptoms": "mild"}, **onset
    )
    assert event.window == window
    assert event.hours_after_end == hours


def test_an_onset_before_the_start_is_refused_and_nothing_is_saved(proc):
    with pytest.raises(ValidationError) as exc:
        complication_record(
            procedure=proc,
            term=PAIN_IN_EXTREMITY,
            facts={"symptoms": "mild"},
            onset_at=START - timedelta(minutes=1),
        )
    assert "onset_at" in _errors(exc)
    assert not ComplicationEvent.objects.exists()


def test_a_date_that_straddles_two_windows_asks_for_the_time(proc):
    with pytest.raises(ValidationError) as exc:
        complication_record(
            procedure=proc,
            term=PAIN_IN_EXTREMITY,
            facts={"symptoms": "mild"},
            onset_date=date(2020, 3, 5),
        )
    assert "onset_date" in _errors(exc)
    assert "time" in " ".join(_errors(exc)["onset_date"]).lower()


def test_exactly_one_kind_of_onset_is_needed(proc):
    with pytest.raises(ValidationError) as exc:
        complication_record(
            procedure=proc,
            term=PAIN_IN_EXTREMITY,
            facts={"symptoms": "mild"},
            onset_at=END,
            during_procedure=True,
        )
    assert "non_field_errors" in _errors(exc)
    with pytest.raises(ValidationError):
        complication_record(procedure=proc, term=PAIN_IN_EXTREMITY, facts={"symptoms": "mild"})


def test_facts_that_fit_no_grade_name_the_grades_the_term_has(proc):
    with pytest.raises(ValidationError) as exc:
        complication_record(
            procedure=proc,
            term=PAIN_IN_EXTREMITY,
            facts={"life_threatening": True},
            during_procedure=True,
        )
    message = " ".join(_errors(exc)["facts"])
    assert "Pain in extremity" in message and "1, 2" in message and "3" in message


def test_an_unknown_fact_is_a_field_error(proc):
    with pytest.raises(ValidationError) as exc:
        complication_record(
            procedure=proc,
            term=PAIN_IN_EXTREMITY,
            facts={"symptoms": "very"},
            during_procedure=True,
        )
    assert "symptoms" in " ".join(_errors(exc)["facts"])


def test_an_unknown_term_is_a_field_error(proc):
    with pytest.raises(ValidationError) as exc:
        complication_record(procedure=proc, term="99999999", facts={}, during_procedure=True)
    assert "term" in _errors(exc)


def test_an_other_specify_term_needs_its_specifying_text(proc):
    with pytest.raises(ValidationError) as exc:
        complication_record(
            procedure=proc, term=MSK_OTHER, facts={"symptoms": "mild"}, during_procedure=True
        )
    assert "specify" in _errors(exc)
    event = complication_record(
        procedure=proc,
        term=MSK_OTHER,
        facts={"symptoms": "mild"},
        during_procedure=True,
        specify="Screw backing out",
    )
    assert event.auto_grade == 1


def test_an_override_needs_a_reason_and_keeps_both_grades(proc):
    event = complication_record(
        procedure=proc,
        term=WOUND_INFECTION,
        facts={"intervention": "oral"},
        onset_at=END + timedelta(days=2),
    )
    assert event.auto_grade == 2
    with pytest.raises(ValidationError) as exc:
        complication_override(event=event, grade=3, reason="  ")
    assert "override_reason" in _errors(exc)
    event = complication_override(event=event, grade=3, reason="Readmitted for IV antibiotics")
    event.refresh_from_db()
    assert (event.auto_grade, event.grade_override, event.grade) == (2, 3, 3)
    cleared = complication_override(event=event, grade=None, reason="")
    cleared.refresh_from_db()
    assert cleared.grade == 2 and cleared.override_reason == ""


def test_an_override_to_a_grade_the_term_lacks_is_refused(proc):
    event = complication_record(
        procedure=proc, term=PAIN_IN_EXTREMITY, facts={"symptoms": "mild"}, during_procedure=True
    )
    with pytest.raises(ValidationError) as exc:
        complication_override(event=event, grade=4, reason="Felt life-threatening")
    assert "no grade 4" in " ".join(_errors(exc)["grade_override"])


def test_changing_the_facts_regrades(proc):
    event = complication_record(
        procedure=proc, term=PAIN_IN_EXTREMITY, facts={"symptoms": "mild"}, during_procedure=True
    )
    event = complication_update(event=event, facts={"symptoms": "severe"})
    assert event.auto_grade == 3


def test_giving_a_new_onset_replaces_the_old_one(proc):
    event = complication_record(
        procedure=proc, term=PAIN_IN_EXTREMITY, facts={"symptoms": "mild"}, during_procedure=True
    )
    event = complication_update(event=event, onset_at=END + timedelta(hours=30))
    event.refresh_from_db()
    assert (event.during_procedure, event.window, event.hours_after_end) == (False, "delayed", 30.0)


def test_moving_the_procedure_rederives_every_window(proc):
    event = complication_record(
        procedure=proc,
        term=PAIN_IN_EXTREMITY,
        facts={"symptoms": "mild"},
        onset_at=END + timedelta(hours=23),
    )
    assert event.window == "early"
    procedure_update(procedure=proc, ended_at=START)
    event.refresh_from_db()
    assert event.window == "delayed" and event.hours_after_end == 24.0


def test_moving_the_procedure_after_a_complication_onset_is_refused_as_a_whole(proc):
    complication_record(
        procedure=proc,
        term=PAIN_IN_EXTREMITY,
        facts={"symptoms": "mild"},
        onset_at=END + timedelta(hours=1),
    )
    with pytest.raises(ValidationError) as exc:
        procedure_update(
            procedure=proc, started_at=END + timedelta(hours=2), ended_at=END + timedelta(hours=3)
        )
    assert "onset_at" in _errors(exc)
    proc.refresh_from_db()
    assert proc.started_at == START


def test_the_cirse_and_sir_classes_come_from_outcome_facts(proc):
    event = complication_record(
        procedure=proc,
        term=WOUND_INFECTION,
        facts={"intervention": "iv"},
        onset_at=END + timedelta(days=5),
        outcome_facts={"extra_stay_hours": 96, "additional_therapy": "major"},
    )
    assert (event.cirse_grade, event.sir_class) == (3, "D")
    with pytest.raises(ValidationError) as exc:
        complication_update(event=event, outcome_facts={"sequelae": "dreadful"})
    assert "outcome_facts" in _errors(exc)


def test_a_catalogue_change_regrades_its_complications_in_the_same_transaction(proc):
    event = complication_record(
        procedure=proc,
        term=WOUND_INFECTION,
        facts={"intervention": "iv"},
        onset_at=END + timedelta(days=3),
    )
    term = CtcaeTerm.objects.get(code=WOUND_INFECTION)
    changed = core_term(term)
    grades = dict(changed.grades)
    grades[3], grades[4] = (
        "Invasive intervention indicated",
        "IV antibiotic, antifungal, or antiviral intervention indicated",
    )
    catalogue_sync(
        terms=[type(changed)(code=changed.code, name=changed.name, soc=changed.soc, grades=grades)],
        curated=True,
    )
    event.refresh_from_db()
    assert event.auto_grade == 4
    assert complications_regrade() == {"checked": 1, "changed": 0, "grades_changed": 0, "failed": 0}


def test_regrading_repairs_grades_written_behind_the_services_back_and_is_idempotent(proc):
    event = complication_record(
        procedure=proc,
        term=WOUND_INFECTION,
        facts={"intervention": "iv"},
        onset_at=END + timedelta(days=3),
    )
    ComplicationEvent.objects.filter(pk=event.pk).update(auto_grade=2, grade_rationale="stale")
    first = complications_regrade()
    assert first["checked"] == 1 and first["grades_changed"] == 1
    event.refresh_from_db()
    assert event.auto_grade == 3
    assert complications_regrade()["changed"] == 0


def test_the_preview_grades_without_saving(db):
    result = grading_preview(term=WOUND_INFECTION, facts={"intervention": "urgent"})
    assert (result.grade, result.severity) == (4, "major")
    assert result.grades_available == (1, 2, 3, 4, 5)
    assert not ComplicationEvent.objects.exists()
