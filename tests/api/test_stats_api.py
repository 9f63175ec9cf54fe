"""The statistics endpoints: shapes as in the contract, validation, scoping, caching."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from complications.live import bump_stats_version
from tests import factories as f
from tests.conftest import api_client_for
from tests.factories import PARIS

RATES = "/api/v1/stats/rates/"
COHORT = "/api/v1/stats/cohort/"
BREAKDOWN = "/api/v1/stats/breakdown/"
VERSION = "/api/v1/stats/version/"
WINDOW_KEYS = {"events", "at_risk", "rate", "percent", "ci95", "minor", "major"}


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with no cached statistics (ids repeat between tests)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def head_api(head) -> APIClient:
    return api_client_for(head)


def build(department, procedures: int, *, fractures: int = 1) -> None:
    start = datetime(2019, 1, 7, 9, tzinfo=PARIS)
    for i in range(procedures):
        proc = f.procedure(f.patient(department), started_at=start + timedelta(days=7 * i))
        for _ in range(fractures):
            f.fracture(proc)
        f.follow_up(proc, hours_after_end=48)
        f.complication(proc, window=("per_procedural", "early", "delayed")[i % 3], grade=1 + i % 5)


@pytest.mark.django_db
class TestShapes:
    def test_rates_have_exactly_the_contracts_keys(self, department, head_api):
        build(department, 3)

        response = head_api.get(RATES)

        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"unit", "windows", "by_term", "by_soc"}
        assert body["unit"] == "fracture"
        assert set(body["windows"]) == {"per_procedural", "early", "delayed"}
        for window in body["windows"].values():
            assert set(window) == WINDOW_KEYS
            assert len(window["ci95"]) == 2
        assert {tuple(sorted(row)) for row in body["by_term"]} == {
            (
                "events",
                "major",
                "minor",
                "pigsf_event",
                "pigsf_event_label",
                "soc",
                "term",
                "term_name",
                "window",
            )
        }
        assert {tuple(sorted(row)) for row in body["by_soc"]} == {
            ("events", "major", "minor", "soc", "window")
        }

    def test_3_of_110_fractures_give_the_studys_wilson_interval(self, department, head_api):
        for i in range(55):
            proc = f.procedure(f.patient(department))
            first, _second = f.fracture(proc), f.fracture(proc)
            if i < 3:
                f.complication(proc, window="per_procedural", grade=1, fractures=[first])

        per_procedural = head_api.get(RATES).json()["windows"]["per_procedural"]

        assert per_procedural == {
            "events": 3,
            "at_risk": 110,
            "rate": 0.02727,
            "percent": 2.7,
            # The contract's example prints 0.0770; the Wilson bound is 0.07713..., so 0.0771.
            "ci95": [0.0093, 0.0771],
            "minor": 3,
            "major": 0,
        }

    def test_the_unit_parameter_changes_what_is_counted(self, department, head_api):
        build(department, 2, fractures=2)

        body = head_api.get(RATES, {"unit": "procedure"}).json()

        assert body["unit"] == "procedure"
        assert body["windows"]["per_procedural"]["at_risk"] == 2

    def test_the_cohort_has_exactly_the_contracts_keys(self, department, head_api):
        build(department, 2)

        body = head_api.get(COHORT).json()

        assert set(body) == {
            "patients", "female", "male", "age", "procedures", "fractures",
            "fracture_types", "followup_beyond_24h",
        }  # fmt: skip
        assert set(body["age"]) == {"mean", "sd", "min", "max"}
        assert set(body["fracture_types"]) == {"insufficiency", "pathological", "impending"}
        assert body["fracture_types"]["insufficiency"] == {"n": 2, "percent": 100.0}
        assert body["followup_beyond_24h"] == {
            "fractures": 2,
            "fractures_percent": 100.0,
            "patients": 2,
            "patients_percent": 100.0,
        }

    def test_the_breakdown_has_quarters_types_sites_and_grades(self, department, head_api):
        build(department, 3)

        body = head_api.get(BREAKDOWN).json()

        assert set(body) == {
            "unit",
            "by_year",
            "by_quarter",
            "by_fracture_type",
            "by_site",
            "grades",
        }
        assert [row["year"] for row in body["by_year"]] == ["2019"]
        assert [row["quarter"] for row in body["by_quarter"]] == ["2019-Q1"]
        assert [row["fracture_type"] for row in body["by_fracture_type"]] == ["insufficiency"]
        assert [row["site"] for row in body["by_site"]] == ["sacrum"]
        assert body["grades"]["per_procedural"] == {"1": 1, "2": 0, "3": 0, "4": 0, "5": 0}

    @pytest.mark.parametrize(
        ("unit", "per_year", "per_quarter"),
        [("fracture", 2, [1, 1]), ("procedure", 2, [1, 1]), ("patient", 1, [1, 1])],
    )
    def test_a_year_counts_each_unit_once_where_its_quarters_add_up(
        self, department, head_api, unit, per_year, per_quarter
    ):
        # One patient treated in March and in May: two quarters, one year. Fractures and
        # procedures add up across the year's quarters; the patient is one patient of 2019.
        pat = f.patient(department)
        for started in (
            datetime(2019, 3, 4, 9, tzinfo=PARIS),
            datetime(2019, 5, 6, 9, tzinfo=PARIS),
        ):
            proc = f.procedure(pat, started_at=started)
            f.fracture(proc)
            f.follow_up(proc, hours_after_end=48)

        body = head_api.get(BREAKDOWN, {"unit": unit}).json()

        year = body["by_year"]
        assert [row["year"] for row in year] == ["2019"]
        assert year[0]["windows"]["delayed"]["at_risk"] == per_year
        quarters = body["by_quarter"]
        assert [row["quarter"] for row in quarters] == ["2019-Q1", "2019-Q2"]
        assert [row["windows"]["delayed"]["at_risk"] for row in quarters] == per_quarter

    def test_the_version_is_a_number(self, head_api):
        response = head_api.get(VERSION)

        assert response.status_code == 200
        assert isinstance(response.json()["version"], int)
        assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
class TestValidation:
    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"unit": "hospital"}, "unit"),
            ({"date_from": "06/01/2020"}, "date_from"),
            ({"date_to": "2020-02-30"}, "date_to"),
            ({"date_from": "0001-01-01"}, "date_from"),
            ({"date_to": "9999-12-31"}, "date_to"),
            ({"date_from": "2020-02-01", "date_to": "2020-01-01"}, "date_to"),
            ({"fracture_type": "stress"}, "fracture_type"),
            ({"site": "skull"}, "site"),
            ({"guidance": "mri"}, "guidance"),
            ({"department": "A"}, "department"),
            ({"department": "0"}, "department"),
            ({"department": "99999999999999999999999"}, "department"),
            ({"operator": "Dr\x00Evil"}, "operator"),
        ],
    )
    def test_a_bad_filter_is_a_400_naming_the_field(self, head_api, params, field):
        for url in (RATES, BREAKDOWN) if field == "unit" else (RATES, COHORT, BREAKDOWN):
            response = head_api.get(url, params)

            assert response.status_code == 400, url
            assert list(response.json()) == [field]
            assert isinstance(response.json()[field], list)

    def test_an_unknown_parameter_is_ignored(self, head_api):
        assert head_api.get(RATES, {"colour": "blue"}).status_code == 200


@pytest.mark.django_db
class TestAccess:
    @pytest.mark.parametrize("url", [RATES, COHORT, BREAKDOWN, VERSION])
    def test_an_anonymous_client_gets_a_401(self, url):
        assert APIClient().get(url).status_code == 401

    @pytest.mark.parametrize("url", [RATES, COHORT, BREAKDOWN])
    def test_another_departments_filter_is_a_404(self, department, outsider, url):
        response = api_client_for(outsider).get(url, {"department": department.pk})

        assert response.status_code == 404

    def test_a_department_that_does_not_exist_is_a_404(self, department, head_api):
        assert head_api.get(RATES, {"department": department.pk + 1000}).status_code == 404

    def test_the_outsider_counts_nothing_of_another_department(self, department, outsider):
        build(department, 3)

        body = api_client_for(outsider).get(RATES).json()

        assert body["windows"]["per_procedural"]["at_risk"] == 0
        assert body["by_term"] == []
        assert api_client_for(outsider).get(COHORT).json()["patients"] == 0

    def test_an_administrator_filters_any_department(
        self, department, other_department, admin_user
    ):
        build(department, 2)
        build(other_department, 1)
        client = api_client_for(admin_user)

        def at_risk(**params) -> int:
            return client.get(RATES, params).json()["windows"]["per_procedural"]["at_risk"]

        assert at_risk() == 3
        assert at_risk(department=other_department.pk) == 1

    def test_a_department_head_filters_their_own_department(self, department, head_api):
        build(department, 2)

        response = head_api.get(RATES, {"department": department.pk})

        assert response.json()["windows"]["per_procedural"]["at_risk"] == 2


@pytest.mark.django_db
class TestLiveCache:
    def test_rates_are_served_from_the_cache_until_the_version_changes(self, department, head_api):
        build(department, 1)
        assert head_api.get(RATES).json()["windows"]["per_procedural"]["at_risk"] == 1

        build(department, 1)
        assert head_api.get(RATES).json()["windows"]["per_procedural"]["at_risk"] == 1

        bump_stats_version()
        assert head_api.get(RATES).json()["windows"]["per_procedural"]["at_risk"] == 2

    def test_a_bump_changes_the_version_the_dashboards_poll(self, head_api):
        before = head_api.get(VERSION).json()["version"]

        bump_stats_version()

        assert head_api.get(VERSION).json()["version"] == before + 1

    def test_a_bump_with_no_counter_yet_starts_one(self, head_api):
        bump_stats_version()

        assert head_api.get(VERSION).json()["version"] > 0

    def test_users_of_different_departments_do_not_share_cached_rates(
        self, department, head_api, outsider
    ):
        build(department, 2)
        assert head_api.get(RATES).json()["windows"]["per_procedural"]["at_risk"] == 2

        body = api_client_for(outsider).get(RATES).json()

        assert body["windows"]["per_procedural"]["at_risk"] == 0

    def test_filters_are_part_of_the_cache_key(self, department, head_api):
        build(department, 2)
        assert head_api.get(RATES).json()["unit"] == "fracture"

        assert head_api.get(RATES, {"unit": "patient"}).json()["unit"] == "patient"
        assert head_api.get(RATES, {"guidance": "cbct"}).json()["windows"]["early"]["at_risk"] == 0


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "most"), [(RATES, 10), (COHORT, 8), (BREAKDOWN, 10), (VERSION, 3)])
def test_an_endpoint_takes_as_many_queries_for_50_procedures_as_for_5(
    department, head_api, url, most, django_assert_max_num_queries
):
    """Token and its last use, department check, visible departments (the cache key), the
    version (read before and after computing, from the database), then the selector's."""
    build(department, 5)
    with CaptureQueriesContext(connection) as small:
        head_api.get(url, {"department": department.pk} if url != VERSION else {})
    cache.clear()
    build(department, 45)
    with django_assert_max_num_queries(most), CaptureQueriesContext(connection) as large:
        response = head_api.get(url, {"department": department.pk} if url != VERSION else {})
    assert response.status_code == 200
    assert len(small.captured_queries) == len(large.captured_queries)
