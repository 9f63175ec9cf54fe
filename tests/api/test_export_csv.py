"""The streamed CSV exports: one header row, de-identified, scoped, filtered, no N+1."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from complications.exports import CASE_COLUMNS, COMPLICATION_COLUMNS
from registry import roles
from tests import factories as f
from tests.conftest import _user, api_client_for
from tests.factories import PARIS

CASES = "/api/v1/export/cases.csv"
COMPLICATIONS = "/api/v1/export/complications.csv"
REGISTRY_ID = "SECRET-0001"
BIRTH = date(1950, 3, 15)


def read(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.content
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def header(response) -> list[str]:
    body = b"".join(response.streaming_content).decode()
    return next(csv.reader(io.StringIO(body)))


def grant(user: User, codename: str) -> None:
    user.user_permissions.add(
        Permission.objects.get(codename=codename, content_type__app_label="registry")
    )


@pytest.fixture
def head_api(head) -> APIClient:
    return api_client_for(head)


@pytest.fixture
def case(department):
    """One patient, one procedure treating a pathological sacrum and an
    insufficiency acetabulum; contacts at 20 h and 72 h; an early grade-3
    complication of the sacrum only."""
    patient = f.patient(department, registry_id=REGISTRY_ID, birth_date=BIRTH, sex="male")
    procedure = f.procedure(
        patient, started_at=datetime(2020, 1, 6, 9, 0, tzinfo=PARIS), operator="JG"
    )
    sacrum = f.fracture(procedure, type="pathological", site="sacrum", side="left")
    acetabulum = f.fracture(procedure, type="insufficiency", site="acetabulum", side="right")
    f.follow_up(procedure, hours_after_end=20)
    f.follow_up(procedure, hours_after_end=72, fractures=[acetabulum])
    event = f.complication(
        procedure, window="early", grade=3, fractures=[sacrum], hours_after_end=5
    )
    return {"procedure": procedure, "sacrum": sacrum, "acetabulum": acetabulum, "event": event}


@pytest.mark.django_db
class TestCasesCsv:
    def test_it_streams_one_header_row_and_one_row_per_fracture(self, head_api, case):
        response = head_api.get(CASES)
        assert response.streaming
        assert response["Content-Type"].startswith("text/csv")
        assert response["Content-Disposition"].startswith('attachment; filename="pigsf-cases-')
        rows = read(response)
        assert [int(r["fracture_id"]) for r in rows] == [case["sacrum"].pk, case["acetabulum"].pk]
        assert list(rows[0]) == [c for c in CASE_COLUMNS if c != "registry_id"]

    def test_a_row_carries_its_procedure_patient_follow_up_and_windows(self, head_api, case):
        sacrum, acetabulum = read(head_api.get(CASES))
        assert sacrum["age_at_procedure"] == "69"
        assert sacrum["sex"] == "male"
        assert sacrum["department"] == "A"
        assert sacrum["procedure_started_at"] == "2020-01-06T09:00:00+01:00"
        assert (sacrum["fracture_type"], sacrum["site"], sacrum["side"]) == (
            "pathological",
            "sacrum",
            "left",
        )
        assert sacrum["operator"] == "JG"
        assert (sacrum["contact_after_end"], sacrum["contact_beyond_24h"]) == ("true", "false")
        assert (acetabulum["contact_after_end"], acetabulum["contact_beyond_24h"]) == (
            "true",
            "true",
        )
        assert (sacrum["early_complication"], sacrum["early_max_grade"]) == ("true", "3")
        assert (sacrum["delayed_complication"], sacrum["delayed_max_grade"]) == ("false", "")
        assert (acetabulum["early_complication"], acetabulum["early_max_grade"]) == ("false", "")

    def test_age_counts_the_birthday_on_the_procedures_local_date(self, head_api, department):
        # Born 6 January 1950, operated at 00:30 Paris time on 6 January 2020
        # (still 5 January in UTC): 70 years old that day.
        patient = f.patient(department, birth_date=date(1950, 1, 6))
        f.fracture(f.procedure(patient, started_at=datetime(2020, 1, 6, 0, 30, tzinfo=PARIS)))
        (row,) = read(head_api.get(CASES))
        assert row["age_at_procedure"] == "70"


@pytest.mark.django_db
class TestDeidentification:
    @pytest.mark.parametrize("url", [CASES, COMPLICATIONS])
    def test_it_has_no_birth_date_and_no_registry_id_by_default(self, head_api, case, url):
        response = head_api.get(url)
        body = b"".join(response.streaming_content).decode()
        assert REGISTRY_ID not in body
        assert BIRTH.isoformat() not in body and "1950" not in body
        columns = next(csv.reader(io.StringIO(body)))
        assert "registry_id" not in columns
        assert not any("birth" in c for c in columns)

    @pytest.mark.parametrize("url", [CASES, COMPLICATIONS])
    def test_the_export_identifiers_permission_adds_the_registry_id(self, head, case, url):
        grant(head, "export_identifiers")
        rows = read(api_client_for(head).get(url))
        assert rows and {r["registry_id"] for r in rows} == {REGISTRY_ID}
        assert all(BIRTH.isoformat() not in value for r in rows for value in r.values())


@pytest.mark.django_db
class TestComplicationsCsv:
    def test_one_row_per_complication_with_its_grading(self, head_api, case):
        event = case["event"]
        event.facts = {"intervention": "iv", "hospitalization": True}
        event.cirse_grade, event.sir_class, event.outcome = 3, "D", "resolved"
        event.save()
        (row,) = read(head_api.get(COMPLICATIONS))
        assert list(row) == [c for c in COMPLICATION_COLUMNS if c != "registry_id"]
        assert int(row["complication_id"]) == event.pk
        assert int(row["procedure_id"]) == case["procedure"].pk
        assert row["fracture_ids"] == str(case["sacrum"].pk)
        assert (row["term"], row["term_name"]) == ("10048038", "Wound infection")
        assert row["soc"] == "Infections and infestations"
        assert (row["window"], row["hours_after_end"], row["during_procedure"]) == (
            "early",
            "5.0",
            "false",
        )
        assert row["onset_at"].startswith("2020-01-06T") and row["onset_at"].endswith("+01:00")
        assert json.loads(row["facts"]) == {"hospitalization": True, "intervention": "iv"}
        assert (row["auto_grade"], row["grade_override"], row["grade"], row["severity"]) == (
            "3",
            "",
            "3",
            "major",
        )
        assert (row["cirse_grade"], row["sir_class"], row["outcome"]) == ("3", "D", "resolved")

    def test_a_fracture_filter_keeps_the_complications_concerning_a_selected_fracture(
        self, head_api, case
    ):
        both = f.complication(case["procedure"], window="delayed", grade=1)
        rows = read(head_api.get(COMPLICATIONS, {"fracture_type": "insufficiency"}))
        # Only the complication concerning the acetabulum too, naming only that fracture.
        assert [(int(r["complication_id"]), r["fracture_ids"]) for r in rows] == [
            (both.pk, str(case["acetabulum"].pk))
        ]

    def test_queries_do_not_grow_with_the_rows(self, head_api, case):
        def count() -> int:
            with CaptureQueriesContext(connection) as queries:
                read(head_api.get(COMPLICATIONS))
            return len(queries)

        few = count()
        for _ in range(30):
            f.complication(case["procedure"], window="delayed", grade=2)
        assert count() == few


@pytest.mark.django_db
class TestAccessAndScoping:
    @pytest.mark.parametrize("url", [CASES, COMPLICATIONS])
    def test_it_needs_authentication(self, url):
        assert APIClient().get(url).status_code == 401

    @pytest.mark.parametrize("url", [CASES, COMPLICATIONS])
    def test_a_radiologist_may_not_export(self, api, case, url):
        response = api.get(url)
        assert response.status_code == 403
        assert response["Content-Type"] == "application/json"

    @pytest.mark.parametrize("url", [CASES, COMPLICATIONS])
    def test_a_head_of_another_department_exports_nothing_of_ours(
        self, other_department, case, url
    ):
        stranger = api_client_for(_user("head_b", roles.DEPARTMENT_HEAD, other_department))
        response = stranger.get(url)
        assert header(response)  # a header row and no data
        assert read(stranger.get(url)) == []
        assert (
            stranger.get(url, {"department": case["procedure"].patient.department_id}).status_code
            == 404
        )

    def test_the_department_filter_keeps_one_department(
        self, admin_user, department, other_department, case
    ):
        f.fracture(f.procedure(f.patient(other_department)))
        admin = api_client_for(admin_user)
        assert len(read(admin.get(CASES))) == 3
        assert {r["department"] for r in read(admin.get(CASES, {"department": department.pk}))} == {
            "A"
        }


@pytest.mark.django_db
class TestFilters:
    def test_filters_are_those_of_the_statistics(self, head_api, department, case):
        later = f.procedure(
            f.patient(department), started_at=datetime(2021, 5, 3, 9, tzinfo=PARIS), guidance="cbct"
        )
        f.fracture(later, type="impending", site="femoral_neck")
        ids = lambda **q: {int(r["fracture_id"]) for r in read(head_api.get(CASES, q))}  # noqa: E731
        first = {case["sacrum"].pk, case["acetabulum"].pk}
        assert ids(date_to="2020-12-31") == first
        assert ids(date_from="2021-01-01") == set(later.fractures.values_list("pk", flat=True))
        assert ids(guidance="ct") == first
        assert ids(site="sacrum") == {case["sacrum"].pk}
        assert ids(fracture_type="impending", date_to="2020-12-31") == set()

    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ({"fracture_type": "bogus"}, "fracture_type"),
            ({"date_from": "yesterday"}, "date_from"),
            ({"date_from": "2020-02-01", "date_to": "2020-01-01"}, "date_to"),
            ({"department": "x"}, "department"),
            ({"guidance": "mri"}, "guidance"),
        ],
    )
    def test_a_bad_filter_is_a_400_naming_it(self, head_api, query, field):
        response = head_api.get(COMPLICATIONS, query, HTTP_ACCEPT="text/csv")
        assert response.status_code == 400
        assert field in response.json()

    def test_an_export_outside_every_selection_is_just_the_header(self, head_api, case):
        response = head_api.get(
            CASES, {"date_from": (date.today() + timedelta(days=1)).isoformat()}
        )
        assert header(response)[0] == "fracture_id"


@pytest.mark.django_db
def test_the_cases_table_agrees_with_the_rates_on_the_demo_cohort(head, department):
    """Counted from the export, the study's figures are the statistics' own."""
    from complications.demo import build_cohort
    from complications.stats.rates import rates

    build_cohort(department)
    rows = read(api_client_for(head).get(CASES))
    windows = rates(user=head)["windows"]
    assert len(rows) == 110
    for window in ("per_procedural", "early", "delayed"):
        hit = [r for r in rows if r[f"{window}_complication"] == "true"]
        major = [r for r in hit if int(r[f"{window}_max_grade"]) >= 3]
        assert (len(hit), len(major)) == (windows[window]["events"], windows[window]["major"])
    beyond = [r for r in rows if "true" in (r["contact_beyond_24h"], r["delayed_complication"])]
    assert len(beyond) == windows["delayed"]["at_risk"] == 79
    assert (windows["delayed"]["events"], windows["delayed"]["major"]) == (14, 5)
