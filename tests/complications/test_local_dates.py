"""Statistics date a procedure by its department's calendar, not the server's: a
New York procedure at 22:00 on 31 March is in March (and in Q1, and before the
patient's 1 April birthday), a Paris one at 00:30 on 1 April in April, whatever
``settings.TIME_ZONE`` is. The local date follows the department's time zone
and the patient's department when they change."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from complications.outcomes.check import outcomes_differences
from complications.stats.breakdown import breakdown
from complications.stats.cohort import cohort, period
from complications.stats.rates import rates
from complications.stats.selection import selected_fractures
from registry.models import Procedure
from registry.selectors import patient_search, procedure_search
from registry.services import (
    department_update,
    fracture_create,
    patient_create,
    patient_update,
    procedure_create,
    procedure_update,
)
from tests.conftest import api_client_for

NEW_YORK, PARIS = ZoneInfo("America/New_York"), ZoneInfo("Europe/Paris")
BORN = date(1950, 4, 1)
MARCH = {"date_from": date(2020, 3, 1), "date_to": date(2020, 3, 31)}
APRIL = {"date_from": date(2020, 4, 1), "date_to": date(2020, 4, 30)}


@pytest.fixture(params=["UTC", "Europe/Paris", "Asia/Tokyo"])
def server_zone(request, settings):
    settings.TIME_ZONE = request.param
    return request.param


def case(department, started_at: datetime, registry_id: str) -> Procedure:
    patient = patient_create(
        department=department, registry_id=registry_id, sex="female", birth_date=BORN
    )
    procedure = procedure_create(
        patient=patient,
        started_at=started_at,
        ended_at=started_at + timedelta(hours=1),
        guidance="ct",
        anesthesia="general",
    )
    fracture_create(procedure=procedure, type="insufficiency", site="sacrum", side="left")
    return procedure


@pytest.fixture
def new_york(other_department):  # America/New_York
    return case(other_department, datetime(2020, 3, 31, 22, 0, tzinfo=NEW_YORK), "NY-1")


@pytest.fixture
def paris(department):  # Europe/Paris
    return case(department, datetime(2020, 4, 1, 0, 30, tzinfo=PARIS), "PA-1")


def units(user, **filters) -> int:
    return rates(user=user, **filters)["windows"]["per_procedural"]["at_risk"]


@pytest.mark.django_db
@pytest.mark.usefixtures("server_zone")
class TestTheDepartmentsCalendar:
    def test_the_local_start_date_is_the_departments(self, new_york, paris):
        assert new_york.started_on == date(2020, 3, 31)
        assert paris.started_on == date(2020, 4, 1)

    @pytest.mark.parametrize("unit", ["fracture", "procedure", "patient"])
    @pytest.mark.parametrize(
        ("filters", "departments"),
        [
            (MARCH, ["NY"]),  # whole months: the monthly rollup
            (APRIL, ["PA"]),
            ({"date_from": date(2020, 3, 31), "date_to": date(2020, 3, 31)}, ["NY"]),  # days
            ({"date_from": date(2020, 4, 1), "date_to": date(2020, 4, 1)}, ["PA"]),
            ({"date_to": date(2020, 3, 31)}, ["NY"]),
            ({"date_from": date(2020, 4, 1)}, ["PA"]),
            ({"date_from": date(2020, 3, 15), "date_to": date(2020, 4, 15)}, ["NY", "PA"]),
        ],
    )
    def test_the_date_filters_take_the_departments_day(
        self, admin_user, new_york, paris, unit, filters, departments
    ):
        assert units(admin_user, unit=unit, **filters) == len(departments)
        chosen = selected_fractures(user=admin_user, **filters)
        codes = chosen.values_list("procedure__patient__department__code", flat=True)
        assert sorted(codes) == sorted({"NY": "B", "PA": "A"}[d] for d in departments)

    @pytest.mark.parametrize(
        "filters",
        [
            {},
            {"date_from": date(2020, 1, 1)},
            {"date_from": date(2020, 3, 1), "date_to": date(2020, 4, 30)},
            {"guidance": "ct"},  # the summary rows, not the rollup
            {"date_from": date(2020, 3, 31), "date_to": date(2020, 4, 1)},  # the days
        ],
    )
    def test_the_breakdown_puts_each_in_its_departments_quarter(
        self, admin_user, other_department, department, new_york, paris, filters
    ):
        for dept, quarter in ((other_department, "2020-Q1"), (department, "2020-Q2")):
            body = breakdown(user=admin_user, department=dept.pk, **filters)
            assert [q["quarter"] for q in body["by_quarter"]] == [quarter]

    def test_the_quarters_of_both_departments_together(self, admin_user, new_york, paris):
        for selection in (
            {},
            {"date_from": date(2020, 1, 1), "date_to": date(2020, 6, 30)},
            {"guidance": "ct"},
        ):
            by_quarter = breakdown(user=admin_user, **selection)["by_quarter"]
            assert {
                q["quarter"]: q["windows"]["per_procedural"]["at_risk"] for q in by_quarter
            } == {
                "2020-Q1": 1,
                "2020-Q2": 1,
            }

    def test_the_age_is_at_the_departments_date(
        self, admin_user, other_department, department, new_york, paris
    ):
        # Born on 1 April: 69 the evening before in New York, 70 just after midnight in Paris.
        assert cohort(user=admin_user, department=other_department.pk)["age"]["min"] == 69
        assert cohort(user=admin_user, department=department.pk)["age"]["min"] == 70

    def test_the_period_is_in_local_dates(self, admin_user, other_department, new_york):
        assert period(user=admin_user, department=other_department.pk) == {
            "first": date(2020, 3, 31),
            "last": date(2020, 3, 31),
        }


@pytest.mark.django_db
class TestTheLocalDateFollows:
    def test_a_new_time_zone_moves_the_departments_procedures(
        self, admin_user, other_department, new_york
    ):
        department_update(department=other_department, time_zone="Asia/Tokyo")

        new_york.refresh_from_db()
        assert new_york.started_on == date(2020, 4, 1)
        assert units(admin_user, **MARCH) == 0
        assert units(admin_user, **APRIL) == 1
        assert not any(outcomes_differences().values())

    def test_a_patient_moved_to_another_department_takes_its_calendar(
        self, admin_user, department, new_york
    ):
        patient_update(patient=new_york.patient, department=department, reason="Wrong department.")

        new_york.refresh_from_db()
        assert new_york.started_on == date(2020, 4, 1)  # 04:00 in Paris
        assert units(admin_user, **APRIL) == 1
        assert not any(outcomes_differences().values())

    def test_a_moved_start_moves_the_local_date(self, admin_user, new_york):
        procedure_update(
            procedure=new_york,
            started_at=datetime(2020, 4, 1, 0, 30, tzinfo=NEW_YORK),
            ended_at=datetime(2020, 4, 1, 1, 30, tzinfo=NEW_YORK),
        )

        assert Procedure.objects.get(pk=new_york.pk).started_on == date(2020, 4, 1)
        assert units(admin_user, **MARCH) == 0
        assert not any(outcomes_differences().values())


@pytest.mark.django_db
def test_a_time_zone_changed_in_the_admin_moves_the_departments_procedures(
    client, admin_user, other_department, new_york
):
    client.force_login(admin_user)

    response = client.post(
        f"/admin/registry/department/{other_department.pk}/change/",
        {
            "code": "B",
            "name": "Department B",
            "time_zone": "Asia/Tokyo",
            "default_guidance": "ct",
            "reason": "The centre moved",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    new_york.refresh_from_db()
    assert new_york.started_on == date(2020, 4, 1)
    assert units(admin_user, **APRIL) == 1
    assert not any(outcomes_differences().values())


@pytest.mark.django_db
@pytest.mark.usefixtures("server_zone")
@pytest.mark.parametrize(("filters", "codes"), [(MARCH, ["B"]), (APRIL, ["A"])])
def test_the_cases_export_filters_and_ages_by_the_departments_day(
    admin_user, new_york, paris, filters, codes
):
    client = api_client_for(admin_user)

    response = client.get("/api/v1/export/cases.csv", {k: str(v) for k, v in filters.items()})

    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["department"], r["age_at_procedure"]) for r in rows] == [
        (code, {"A": "70", "B": "69"}[code]) for code in codes
    ]


@pytest.mark.django_db
@pytest.mark.usefixtures("server_zone")
def test_the_case_and_patient_lists_and_the_procedures_api_filter_by_the_departments_day(
    admin_user, new_york, paris
):
    march = {"date_from": date(2020, 3, 31), "date_to": date(2020, 3, 31)}
    assert list(procedure_search(user=admin_user, **march)) == [new_york]
    assert list(patient_search(user=admin_user, **march)) == [new_york.patient]
    response = api_client_for(admin_user).get(
        "/api/v1/procedures/", {"started_after": "2020-04-01", "started_before": "2020-04-01"}
    )
    assert [p["id"] for p in response.json()["results"]] == [paris.pk]
