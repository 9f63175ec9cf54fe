"""Cumulative incidence, funnel plot and risk-adjusted O/E through the API, on constructed
registries whose answers are known."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pytest
from django.contrib.auth.models import Group, User

from complications.ctcae.incidence import COMPETING, EVENT, aalen_johansen
from complications.models import ComplicationEvent
from registry import roles
from registry.models import Department, Fracture, Patient, Procedure
from tests import factories as f
from tests.conftest import PASSWORD, api_client_for
from tests.factories import PARIS

INCIDENCE = "/api/v1/stats/cumulative-incidence/"
FUNNEL = "/api/v1/stats/funnel/"
RISK = "/api/v1/stats/risk-adjusted/"
START = datetime(2020, 1, 6, 9, 0, tzinfo=PARIS)  # ends 10:30 Paris = 09:30 UTC


@pytest.fixture
def coordinator(db) -> User:
    user = User.objects.create_user(username="coordinator", password=PASSWORD)
    user.groups.add(Group.objects.get(name=roles.REGISTRY_COORDINATOR))
    return user


# --- cumulative incidence -----------------------------------------------------------------


def _one(department, **patient_fields) -> tuple[Procedure, Fracture]:
    patient = f.patient(department)
    for name, value in patient_fields.items():
        setattr(patient, name, value)
    patient.save()
    procedure = f.procedure(patient, started_at=START)
    return procedure, f.fracture(procedure)


@pytest.fixture
def incidence_cohort(department):
    """Seven fractures, one per procedure, whose times and kinds are worked out by hand."""
    p1, _ = _one(department)
    f.complication(p1, window="delayed", grade=3, hours_after_end=72)  # event at 3 days
    # death on 16 Jan: 12:00 Paris = 11:00 UTC, 10 days 1.5 h after the end: competing
    _one(department, death_date=date(2020, 1, 16), death_related=False)
    p3, _ = _one(department)
    f.follow_up(p3, hours_after_end=480)  # censored at 20 days
    p4, _ = _one(department)
    f.follow_up(p4, hours_after_end=240)
    p4.follow_up_status, p4.follow_up_closed_on = "completed", date(2020, 2, 5)
    p4.save()  # censored at the closing day: 30 days 1.5 h
    _one(department)  # no evidence: censored at 0
    p6, _ = _one(department)
    f.complication(p6, window="early", grade=3, hours_after_end=2)  # evidence at 2 h
    p7, _ = _one(department, death_date=date(2020, 1, 16))
    f.complication(p7, window="delayed", grade=1, hours_after_end=72)  # minor, then death
    return department


DEATH = 10 + 1.5 / 24
CLOSED = 30 + 1.5 / 24


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            {},  # delayed, any grade
            [(3, EVENT), (DEATH, COMPETING), (20, 0), (CLOSED, 0), (0, 0), (2 / 24, 0), (3, EVENT)],
        ),
        (
            {"severity": "major"},
            [
                (3, EVENT),
                (DEATH, COMPETING),
                (20, 0),
                (CLOSED, 0),
                (0, 0),
                (2 / 24, 0),
                (DEATH, COMPETING),
            ],
        ),
        (
            {"window": "post_procedural", "severity": "major"},
            [
                (3, EVENT),
                (DEATH, COMPETING),
                (20, 0),
                (CLOSED, 0),
                (0, 0),
                (2 / 24, EVENT),
                (DEATH, COMPETING),
            ],
        ),
    ],
)
def test_cumulative_incidence_follows_the_counting_rules(incidence_cohort, head, query, expected):
    response = api_client_for(head).get(INCIDENCE, query)
    assert response.status_code == 200, response.content
    body = response.json()
    times, kinds = zip(*expected, strict=True)
    reference = aalen_johansen(times, kinds)
    assert (body["units"], body["events"], body["competing"], body["censored"]) == (
        reference.units,
        reference.events,
        reference.competing,
        reference.censored,
    )
    assert [point["day"] for point in body["curve"]] == [round(t, 4) for t in reference.times]
    assert [point["cif"] for point in body["curve"]] == [round(c, 4) for c in reference.cif]
    assert [point["at_risk"] for point in body["curve"]] == list(reference.at_risk)
    for day in ("30", "90", "180", "365"):
        cif, low, high, at_risk = reference.at(int(day))
        assert body["at"][day] == {
            "cif": round(cif, 4),
            "ci95": [round(low, 4), round(high, 4)],
            "at_risk": at_risk,
        }
    # at 30 days, the unit closed at 30 days 1.5 h is still at risk
    assert body["at"]["30"]["at_risk"] == 1


def test_cumulative_incidence_per_procedure_and_scoping(incidence_cohort, head, outsider):
    body = api_client_for(head).get(INCIDENCE, {"unit": "procedure"}).json()
    assert body["unit"] == "procedure" and body["units"] == 7
    assert api_client_for(outsider).get(INCIDENCE).json()["units"] == 0
    response = api_client_for(outsider).get(INCIDENCE, {"department": incidence_cohort.pk})
    assert response.status_code == 404


def test_cumulative_incidence_coordinator_sees_every_department(incidence_cohort, coordinator):
    assert api_client_for(coordinator).get(INCIDENCE).json()["units"] == 7


@pytest.mark.parametrize(
    "query", [{"unit": "patient"}, {"window": "early"}, {"severity": "minor"}, {"date_from": "x"}]
)
def test_cumulative_incidence_bad_filters_are_400(head, query):
    response = api_client_for(head).get(INCIDENCE, query)
    assert response.status_code == 400
    assert set(response.json()) == set(query)


# --- funnel plot --------------------------------------------------------------------------


def _department_with(department: Department, *, major: int) -> None:
    """50 fractures (10 procedures of 5), all seen beyond 24 h; ``major`` of them with a
    major delayed complication."""
    left = major
    for _ in range(10):
        procedure = f.procedure(f.patient(department), started_at=START)
        fractures = [f.fracture(procedure) for _ in range(5)]
        f.follow_up(procedure, hours_after_end=72)
        if left:
            f.complication(procedure, window="delayed", grade=3, fractures=fractures[:left])
            left -= min(left, 5)


@pytest.fixture
def funnel_registry(department, other_department):
    third = Department.objects.create(code="C", name="Department C", time_zone="Europe/Paris")
    _department_with(department, major=20)
    _department_with(other_department, major=2)
    _department_with(third, major=2)
    return department, other_department, third


def test_the_funnel_finds_the_outlier(funnel_registry, head):
    body = api_client_for(head).get(FUNNEL).json()
    assert body["overall"] == {"events": 24, "at_risk": 150, "rate": 0.16}
    rows = {row["label"]: row for row in body["departments"]}
    outlier = rows["A"]
    assert outlier["department"] == funnel_registry[0].pk
    assert (outlier["events"], outlier["at_risk"], outlier["rate"]) == (20, 50, 0.4)
    assert outlier["position"] == "above_99.8"
    low95, high95 = outlier["limits"]["95"]
    low998, high998 = outlier["limits"]["99.8"]
    assert low998 < low95 < 0.16 < high95 < high998 < 0.4
    # the other two (2/50 = 0.04) are below the 95 % limit, not below 99.8 %
    others = [row for row in body["departments"] if row["label"] != "A"]
    assert [row["position"] for row in others] == ["below_95", "below_95"]


def test_the_funnel_anonymises_other_departments(funnel_registry, head, admin_user, coordinator):
    a, b, c = funnel_registry
    mine = api_client_for(head).get(FUNNEL).json()["departments"]
    assert sorted(str(row["department"]) for row in mine) == sorted([str(a.pk), "None", "None"])
    labels = {row["label"] for row in mine}
    assert "B" not in labels and "C" not in labels
    for user in (admin_user, coordinator):
        rows = api_client_for(user).get(FUNNEL).json()["departments"]
        assert {row["department"] for row in rows} == {a.pk, b.pk, c.pk}
        assert {row["label"] for row in rows} == {"A", "B", "C"}


def test_the_funnel_any_severity_and_window(funnel_registry, head):
    body = api_client_for(head).get(FUNNEL, {"window": "early", "severity": "any"}).json()
    assert body["overall"]["events"] == 0
    assert all(row["position"] == "within" for row in body["departments"])
    assert api_client_for(head).get(FUNNEL, {"window": "late"}).status_code == 400


# --- risk-adjusted O/E --------------------------------------------------------------------


def _bulk_registry(rates: dict[Department, float], *, per_department: int, seed: int) -> None:
    """Fractures with varying age and sex; a major complication with the given probability
    (shifted by age), written in bulk (the O/E reads the clinical rows)."""
    rng = np.random.default_rng(seed)
    term = f.term()
    for department, rate in rates.items():
        patients = Patient.objects.bulk_create(
            Patient(
                department=department,
                registry_id=f"{department.code}{i}",
                sex=("female", "male")[i % 2],
                birth_date=date(int(rng.integers(1930, 1970)), 6, 1),
            )
            for i in range(per_department)
        )
        procedures = Procedure.objects.bulk_create(
            Procedure(
                patient=patient,
                started_at=START,
                ended_at=START + timedelta(hours=1),
                started_on=START.date(),
                guidance="ct",
                anesthesia="general",
                operator=f"Dr {department.code}{i % 2}",
            )
            for i, patient in enumerate(patients)
        )
        fractures = Fracture.objects.bulk_create(
            Fracture(procedure=p, type="insufficiency", site="sacrum", side="left")
            for p in procedures
        )
        events = []
        for procedure, fracture, patient in zip(procedures, fractures, patients, strict=True):
            age_shift = (1970 - patient.birth_date.year) / 400
            if rng.random() < rate + age_shift - 0.05:
                events.append((procedure, fracture))
        made = ComplicationEvent.objects.bulk_create(
            ComplicationEvent(
                procedure=p,
                term=term,
                auto_grade=3,
                window="delayed",
                onset_at=p.ended_at + timedelta(days=3),
                hours_after_end=72,
            )
            for p, _ in events
        )
        ComplicationEvent.fractures.through.objects.bulk_create(
            ComplicationEvent.fractures.through(complicationevent_id=e.pk, fracture_id=fr.pk)
            for e, (_, fr) in zip(made, events, strict=True)
        )


def test_risk_adjusted_finds_the_outlier(department, other_department, coordinator, head):
    third = Department.objects.create(code="C", name="Department C", time_zone="Europe/Paris")
    _bulk_registry(
        {department: 0.45, other_department: 0.12, third: 0.12}, per_department=200, seed=3
    )
    body = api_client_for(coordinator).get(RISK).json()
    model = body["model"]
    assert model["enough_events"] is True and body["message"] is None
    assert model["parameters"] == 2  # only age and sex vary in this registry
    assert model["events_per_variable"] >= 10
    assert 0.5 <= model["c_statistic"] <= 1
    assert model["hosmer_lemeshow"]["df"] == 8
    rows = {row["label"]: row for row in body["departments"]}
    assert rows["A"]["oe"] > 1 and rows["A"]["ci95"][0] > 1
    assert rows["B"]["oe"] < 1 and rows["C"]["oe"] < 1
    # O/E sums back: the expected counts add up to the observed overall (logistic MLE)
    total_expected = sum(row["expected"] for row in body["departments"])
    assert total_expected == pytest.approx(model["events"], abs=0.05)
    assert {row["operator"] for row in body["operators"]} == {
        "Dr A0",
        "Dr A1",
        "Dr B0",
        "Dr B1",
        "Dr C0",
        "Dr C1",
    }
    # a department head: own department named, its operators only
    mine = api_client_for(head).get(RISK).json()
    assert {row["label"] for row in mine["departments"]} == {
        "A",
        "Other department 1",
        "Other department 2",
    }
    assert {row["operator"] for row in mine["operators"]} == {"Dr A0", "Dr A1"}


def test_risk_adjusted_says_not_enough_events(department, head):
    _bulk_registry({department: 0.05}, per_department=60, seed=1)
    body = api_client_for(head).get(RISK).json()
    assert body["model"]["enough_events"] is False
    assert body["departments"] == [] and body["operators"] == []
    assert "Not enough events" in body["message"]
    assert body["model"]["events_per_variable"] < 10


def test_the_analyses_need_a_login(db):
    from rest_framework.test import APIClient

    for url in (INCIDENCE, FUNNEL, RISK):
        assert APIClient().get(url).status_code == 401
