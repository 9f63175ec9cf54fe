"""The cohort table: patients, age, procedures, fractures, follow-up beyond 24 h."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from complications.demo import build_cohort
from complications.stats.cohort import cohort
from registry.models import Department
from tests import factories as f
from tests.factories import PARIS


def at(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


@pytest.mark.django_db
class TestPeople:
    def test_it_counts_patients_by_sex(self, department, head):
        for sex in ("female", "female", "male"):
            f.fracture(f.procedure(f.patient(department, sex=sex)))

        result = cohort(user=head)
        assert (result["patients"], result["female"], result["male"]) == (3, 2, 1)

    def test_age_is_whole_years_at_the_patients_first_procedure_of_the_selection(
        self, department, head
    ):
        pat = f.patient(department, birth_date=date(1950, 6, 15))
        f.fracture(f.procedure(pat, started_at=at(2020, 6, 14)))  # the day before turning 70
        f.fracture(f.procedure(pat, started_at=at(2021, 6, 15)))

        assert cohort(user=head)["age"] == {"mean": 69.0, "sd": None, "min": 69, "max": 69}
        later = cohort(user=head, date_from=date(2021, 1, 1))["age"]
        assert (later["min"], later["max"]) == (71, 71)

    def test_a_birthday_on_the_day_of_the_procedure_counts(self, department, head):
        pat = f.patient(department, birth_date=date(1950, 6, 15))
        f.fracture(f.procedure(pat, started_at=at(2020, 6, 15)))

        assert cohort(user=head)["age"]["min"] == 70

    def test_the_local_date_of_the_procedure_decides_the_age(self, department, head):
        # 00:30 in Paris on 15 June is 14 June in UTC: the patient is already 70.
        pat = f.patient(department, birth_date=date(1950, 6, 15))
        f.fracture(f.procedure(pat, started_at=at(2020, 6, 15, 0, 30)))

        assert cohort(user=head)["age"]["min"] == 70

    def test_mean_and_sample_standard_deviation_have_one_decimal(self, department, head):
        for born in (date(1950, 1, 1), date(1960, 1, 1), date(1971, 1, 1)):
            f.fracture(
                f.procedure(f.patient(department, birth_date=born), started_at=at(2020, 6, 1))
            )

        # ages 70, 60, 49: mean 59.666..., sample SD 10.503...
        assert cohort(user=head)["age"] == {"mean": 59.7, "sd": 10.5, "min": 49, "max": 70}

    def test_an_empty_selection_has_no_age(self, head):
        result = cohort(user=head)
        assert result["patients"] == 0
        assert result["age"] == {"mean": None, "sd": None, "min": None, "max": None}


@pytest.mark.django_db
class TestCases:
    def test_it_counts_procedures_and_fractures_by_type_with_percentages_of_all_fractures(
        self, department, head
    ):
        proc = f.procedure(f.patient(department))
        for kind in ("insufficiency", "pathological", "pathological"):
            f.fracture(proc, type=kind)

        result = cohort(user=head)
        assert (result["procedures"], result["fractures"]) == (1, 3)
        assert result["fracture_types"] == {
            "insufficiency": {"n": 1, "percent": 33.3},
            "pathological": {"n": 2, "percent": 66.7},
            "impending": {"n": 0, "percent": 0.0},
        }

    def test_a_procedure_without_fracture_is_outside_the_cohort(self, department, head):
        f.procedure(f.patient(department))

        result = cohort(user=head)
        assert (result["patients"], result["procedures"], result["fractures"]) == (0, 0, 0)

    def test_follow_up_beyond_24_hours_counts_contacts_and_delayed_complications(
        self, department, head
    ):
        seen = f.procedure(f.patient(department))
        covered, uncovered = f.fracture(seen), f.fracture(seen)
        f.follow_up(seen, hours_after_end=30, fractures=[covered])
        complicated = f.procedure(f.patient(department))
        f.complication(complicated, window="delayed", grade=2, fractures=[f.fracture(complicated)])
        checked_early = f.procedure(f.patient(department))
        f.fracture(checked_early)
        f.follow_up(checked_early, hours_after_end=24)

        result = cohort(user=head)["followup_beyond_24h"]
        assert result == {
            "fractures": 2,
            "fractures_percent": 50.0,
            "patients": 2,
            "patients_percent": 66.7,
        }
        assert uncovered.pk

    def test_a_patient_counts_once_for_several_fractures_followed_beyond_24_hours(
        self, department, head
    ):
        proc = f.procedure(f.patient(department))
        f.fracture(proc)
        f.fracture(proc)
        f.follow_up(proc, hours_after_end=48)

        result = cohort(user=head)["followup_beyond_24h"]
        assert (result["fractures"], result["patients"], result["patients_percent"]) == (
            2,
            1,
            100.0,
        )


@pytest.mark.django_db
class TestSelection:
    def test_filters_select_the_same_cases_as_the_rates(self, department, head):
        ct = f.procedure(
            f.patient(department, sex="male"), guidance="ct", started_at=at(2019, 3, 1)
        )
        f.fracture(ct, type="pathological", site="acetabulum")
        fluoro = f.procedure(
            f.patient(department), guidance="fluoroscopy", started_at=at(2020, 3, 1)
        )
        f.fracture(fluoro, type="insufficiency", site="sacrum")

        assert cohort(user=head, guidance="ct")["male"] == 1
        assert cohort(user=head, site="sacrum")["female"] == 1
        assert cohort(user=head, fracture_type="impending")["patients"] == 0
        assert cohort(user=head, date_from=date(2020, 1, 1))["fractures"] == 1
        assert cohort(user=head, date_to=date(2019, 3, 1))["procedures"] == 1

    def test_the_outsider_sees_an_empty_cohort(self, department, outsider):
        f.fracture(f.procedure(f.patient(department)))

        result = cohort(user=outsider)
        assert (result["patients"], result["procedures"], result["fractures"]) == (0, 0, 0)


def build(department, procedures: int) -> None:
    for i in range(procedures):
        proc = f.procedure(
            f.patient(department, birth_date=date(1940 + i % 30, 1 + i % 12, 1)),
            started_at=at(2019, 1, 7) + timedelta(days=7 * i),
        )
        f.fracture(proc, type=("insufficiency", "pathological", "impending")[i % 3])
        f.follow_up(proc, hours_after_end=48)


@pytest.mark.django_db
def test_the_cohort_takes_two_queries_however_many_cases(
    department, head, django_assert_max_num_queries
):
    build(department, 5)
    with CaptureQueriesContext(connection) as small:
        cohort(user=head)
    build(department, 45)
    with django_assert_max_num_queries(2), CaptureQueriesContext(connection) as large:
        result = cohort(user=head)
    assert len(small.captured_queries) == len(large.captured_queries)
    assert result["patients"] == 50


@pytest.mark.django_db
def test_the_demo_cohort_reproduces_the_reference_studys_population(admin_user):
    """docs/domain.md section 5: the cohort table of the reference study."""
    build_cohort(Department.objects.create(code="DEMO", name="Demo", time_zone="Europe/Paris"))

    assert cohort(user=admin_user) == {
        "patients": 94,
        "female": 48,
        "male": 46,
        "age": {"mean": 62.7, "sd": 12.7, "min": 32, "max": 88},
        "procedures": 95,
        "fractures": 110,
        "fracture_types": {
            "insufficiency": {"n": 40, "percent": 36.4},
            "pathological": {"n": 53, "percent": 48.2},
            "impending": {"n": 17, "percent": 15.5},
        },
        "followup_beyond_24h": {
            "fractures": 79,
            "fractures_percent": 71.8,
            "patients": 69,
            "patients_percent": 73.4,
        },
    }
