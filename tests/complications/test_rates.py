"""Rates per window (docs/domain.md section 4), on hand-built cohorts.

Each test builds exactly the cases one counting rule needs and checks the
numbers the selector returns for them.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from complications.demo import build_cohort
from complications.outcomes.refresh import outcomes_refresh
from complications.stats.rates import most_frequent_major, rates
from registry.models import Department
from tests import factories as f
from tests.factories import PARIS


def case(
    department, *, fractures: int = 1, started_at: datetime | None = None, patient=None, **procedure
):
    """A procedure of a (new) patient with ``fractures`` sacrum insufficiency fractures."""
    proc = f.procedure(patient or f.patient(department), started_at=started_at, **procedure)
    return proc, [f.fracture(proc) for _ in range(fractures)]


def window(result: dict, name: str) -> dict:
    return result["windows"][name]


def counts(result: dict, name: str) -> tuple[int, int, int, int]:
    """(events, at_risk, minor, major) of one window."""
    w = window(result, name)
    return w["events"], w["at_risk"], w["minor"], w["major"]


@pytest.mark.django_db
class TestNumerator:
    def test_a_complication_of_one_fracture_of_a_two_fracture_procedure_counts_only_that_fracture(
        self, department, head
    ):
        proc, (first, _second) = case(department, fractures=2)
        f.complication(proc, window="per_procedural", grade=1, fractures=[first])

        assert counts(rates(user=head), "per_procedural") == (1, 2, 1, 0)
        assert counts(rates(user=head, unit="procedure"), "per_procedural") == (1, 1, 1, 0)

    def test_a_complication_concerning_both_fractures_counts_for_each(self, department, head):
        proc, _ = case(department, fractures=2)
        f.complication(proc, window="per_procedural", grade=2)

        assert counts(rates(user=head), "per_procedural") == (2, 2, 2, 0)

    def test_a_fracture_with_two_complications_in_one_window_counts_once_with_its_highest_grade(
        self, department, head
    ):
        proc, _ = case(department)
        f.follow_up(proc, hours_after_end=6)
        f.complication(proc, window="early", grade=1)
        f.complication(proc, window="early", grade=3, term_code=f.HEMATOMA)

        assert counts(rates(user=head), "early") == (1, 1, 0, 1)

    def test_minor_and_major_split_the_events_by_each_units_highest_grade(self, department, head):
        for grade in (1, 2, 3, 4, 5):
            proc, _ = case(department)
            f.complication(proc, window="per_procedural", grade=grade)

        assert counts(rates(user=head), "per_procedural") == (5, 5, 2, 3)

    def test_a_complication_counts_only_in_its_own_window(self, department, head):
        proc, _ = case(department)
        f.complication(proc, window="delayed", grade=2)

        result = rates(user=head)
        assert window(result, "per_procedural")["events"] == 0
        assert window(result, "early")["events"] == 0
        assert window(result, "delayed")["events"] == 1

    def test_a_grade_override_decides_minor_or_major(self, department, head):
        proc, _ = case(department)
        event = f.complication(proc, window="per_procedural", grade=2)
        event.grade_override, event.override_reason = 3, "Transfused the next morning"
        event.save()
        outcomes_refresh(procedure_ids=[proc.pk])  # as the services do after a write

        assert counts(rates(user=head), "per_procedural") == (1, 1, 0, 1)


@pytest.mark.django_db
class TestDenominators:
    def test_every_unit_of_the_selection_is_at_risk_during_the_procedure(self, department, head):
        case(department, fractures=3)
        case(department, fractures=1)

        assert window(rates(user=head), "per_procedural")["at_risk"] == 4
        assert window(rates(user=head, unit="procedure"), "per_procedural")["at_risk"] == 2

    def test_a_unit_without_follow_up_or_later_complication_is_not_at_risk_after_the_procedure(
        self, department, head
    ):
        case(department)

        result = rates(user=head)
        assert window(result, "early")["at_risk"] == 0
        assert window(result, "delayed")["at_risk"] == 0

    def test_a_contact_within_24_hours_puts_the_unit_at_risk_for_the_early_window_only(
        self, department, head
    ):
        proc, _ = case(department)
        f.follow_up(proc, hours_after_end=3)

        result = rates(user=head)
        assert window(result, "early")["at_risk"] == 1
        assert window(result, "delayed")["at_risk"] == 0

    def test_a_contact_at_the_very_end_of_the_procedure_is_not_follow_up(self, department, head):
        proc, _ = case(department)
        f.follow_up(proc, hours_after_end=0)

        assert window(rates(user=head), "early")["at_risk"] == 0

    def test_a_contact_exactly_24_hours_after_the_end_is_not_beyond_24_hours(
        self, department, head
    ):
        proc, _ = case(department)
        f.follow_up(proc, hours_after_end=24)

        result = rates(user=head)
        assert window(result, "early")["at_risk"] == 1
        assert window(result, "delayed")["at_risk"] == 0

    def test_a_contact_a_minute_after_24_hours_puts_the_unit_at_risk_for_both_later_windows(
        self, department, head
    ):
        proc, _ = case(department)
        f.follow_up(proc, hours_after_end=24 + 1 / 60)

        result = rates(user=head)
        assert window(result, "early")["at_risk"] == 1
        assert window(result, "delayed")["at_risk"] == 1

    def test_a_delayed_complication_without_follow_up_counts_in_the_early_and_delayed_denominators(
        self, department, head
    ):
        proc, _ = case(department)
        f.complication(proc, window="delayed", grade=3)

        result = rates(user=head)
        assert counts(result, "early") == (0, 1, 0, 0)
        assert counts(result, "delayed") == (1, 1, 0, 1)

    def test_an_early_complication_without_follow_up_counts_in_the_early_denominator_only(
        self, department, head
    ):
        proc, _ = case(department)
        f.complication(proc, window="early", grade=1)

        result = rates(user=head)
        assert counts(result, "early") == (1, 1, 1, 0)
        assert window(result, "delayed")["at_risk"] == 0

    def test_a_per_procedural_complication_is_no_evidence_of_follow_up(self, department, head):
        proc, _ = case(department)
        f.complication(proc, window="per_procedural", grade=1)

        assert window(rates(user=head), "early")["at_risk"] == 0

    def test_a_contact_covering_one_fracture_puts_only_that_fracture_at_risk(
        self, department, head
    ):
        proc, (first, _second) = case(department, fractures=2)
        f.follow_up(proc, hours_after_end=48, fractures=[first])

        assert window(rates(user=head), "delayed")["at_risk"] == 1
        assert window(rates(user=head, unit="procedure"), "delayed")["at_risk"] == 1

    def test_a_delayed_complication_of_one_fracture_is_evidence_for_that_fracture_only(
        self, department, head
    ):
        proc, (first, _second) = case(department, fractures=2)
        f.complication(proc, window="delayed", grade=2, fractures=[first])

        assert counts(rates(user=head), "delayed") == (1, 1, 1, 0)
        assert counts(rates(user=head, unit="procedure"), "delayed") == (1, 1, 1, 0)


@pytest.mark.django_db
class TestUnits:
    def test_the_fracture_unit_is_the_default(self, department, head):
        assert rates(user=head)["unit"] == "fracture"

    def test_the_procedure_unit_counts_a_procedure_once_whatever_its_fractures(
        self, department, head
    ):
        proc, (first, second) = case(department, fractures=2)
        f.follow_up(proc, hours_after_end=2)
        f.complication(proc, window="early", grade=1, fractures=[first])
        f.complication(proc, window="early", grade=4, fractures=[second])

        result = rates(user=head, unit="procedure")
        assert result["unit"] == "procedure"
        assert counts(result, "early") == (1, 1, 0, 1)
        assert counts(rates(user=head), "early") == (2, 2, 1, 1)

    def test_the_patient_unit_counts_a_patient_once_across_their_procedures(self, department, head):
        pat = f.patient(department)
        first, _ = case(department, patient=pat, started_at=datetime(2020, 1, 6, 9, tzinfo=PARIS))
        second, _ = case(department, patient=pat, started_at=datetime(2020, 6, 1, 9, tzinfo=PARIS))
        f.complication(first, window="delayed", grade=2)
        f.complication(second, window="delayed", grade=3)
        case(department)

        result = rates(user=head, unit="patient")
        assert result["unit"] == "patient"
        assert counts(result, "per_procedural") == (0, 2, 0, 0)
        assert counts(result, "delayed") == (1, 1, 0, 1)
        assert counts(rates(user=head, unit="procedure"), "delayed") == (2, 2, 1, 1)

    def test_the_patient_unit_ignores_the_patients_procedures_outside_the_selection(
        self, department, head
    ):
        pat = f.patient(department)
        inside, _ = case(department, patient=pat, started_at=datetime(2020, 1, 6, 9, tzinfo=PARIS))
        outside, _ = case(department, patient=pat, started_at=datetime(2021, 1, 6, 9, tzinfo=PARIS))
        f.follow_up(inside, hours_after_end=2)
        f.complication(outside, window="delayed", grade=4)

        result = rates(user=head, unit="patient", date_to=date(2020, 12, 31))
        assert counts(result, "early") == (0, 1, 0, 0)
        assert counts(result, "delayed") == (0, 0, 0, 0)

    def test_an_unknown_unit_is_refused(self, head):
        with pytest.raises(ValueError, match="unit"):
            rates(user=head, unit="hospital")  # type: ignore[arg-type]


@pytest.mark.django_db
class TestByTermAndSoc:
    def test_by_term_counts_units_per_term_split_by_their_highest_grade_for_that_term(
        self, department, head
    ):
        first, _ = case(department)
        second, _ = case(department)
        f.complication(first, window="delayed", grade=1, term_code=f.WOUND_INFECTION)
        f.complication(first, window="delayed", grade=2, term_code=f.WOUND_INFECTION)
        f.complication(second, window="delayed", grade=3, term_code=f.WOUND_INFECTION)
        f.complication(second, window="delayed", grade=1, term_code=f.HEMATOMA)

        by_term = rates(user=head)["by_term"]
        assert by_term == [
            {
                "window": "delayed",
                "term": "10048038",
                "term_name": "Wound infection",
                "soc": "Infections and infestations",
                "pigsf_event": None,
                "pigsf_event_label": None,
                "events": 2,
                "minor": 1,
                "major": 1,
            },
            {
                "window": "delayed",
                "term": "10018852",
                "term_name": "Hematoma",
                "soc": "Vascular disorders",
                "pigsf_event": None,
                "pigsf_event_label": None,
                "events": 1,
                "minor": 1,
                "major": 0,
            },
        ]

    def test_by_soc_counts_a_unit_once_for_two_terms_of_the_same_organ_class(
        self, department, head
    ):
        proc, _ = case(department)
        f.complication(proc, window="delayed", grade=2, term_code=f.WOUND_INFECTION)
        f.complication(proc, window="delayed", grade=3, term_code=f.BONE_INFECTION)

        result = rates(user=head)
        assert result["by_soc"] == [
            {
                "window": "delayed",
                "soc": "Infections and infestations",
                "events": 1,
                "minor": 0,
                "major": 1,
            }
        ]
        assert sorted((r["term_name"], r["minor"], r["major"]) for r in result["by_term"]) == [
            ("Bone infection", 0, 1),
            ("Wound infection", 1, 0),
        ]

    def test_by_term_is_per_window_in_window_order(self, department, head):
        proc, _ = case(department)
        f.complication(proc, window="delayed", grade=1)
        f.complication(proc, window="per_procedural", grade=1)
        f.complication(proc, window="early", grade=1)

        assert [r["window"] for r in rates(user=head)["by_term"]] == [
            "per_procedural",
            "early",
            "delayed",
        ]

    def test_by_term_counts_fractures_concerned_and_procedures_once(self, department, head):
        proc, (first, _second) = case(department, fractures=2)
        f.complication(proc, window="early", grade=2, fractures=[first])
        f.complication(proc, window="early", grade=1)

        assert rates(user=head)["by_term"][0]["events"] == 2
        assert rates(user=head, unit="procedure")["by_term"][0]["events"] == 1
        assert rates(user=head, unit="patient")["by_soc"][0]["events"] == 1


@pytest.mark.django_db
class TestFilters:
    def test_dates_are_inclusive_procedure_start_dates_in_the_registry_time_zone(
        self, department, head
    ):
        # 00:30 in Paris on 6 January is still 5 January in UTC.
        case(department, started_at=datetime(2020, 1, 6, 0, 30, tzinfo=PARIS))
        case(department, started_at=datetime(2020, 1, 7, 23, 30, tzinfo=PARIS))
        case(department, started_at=datetime(2020, 1, 8, 0, 0, tzinfo=PARIS))

        def at_risk(**dates) -> int:
            return window(rates(user=head, **dates), "per_procedural")["at_risk"]

        assert at_risk(date_from=date(2020, 1, 6), date_to=date(2020, 1, 7)) == 2
        assert at_risk(date_from=date(2020, 1, 7)) == 2
        assert at_risk(date_to=date(2020, 1, 5)) == 0
        assert at_risk(date_from=date(2020, 1, 8), date_to=date(2020, 1, 8)) == 1

    def test_fracture_type_and_site_select_fractures(self, department, head):
        proc = f.procedure(f.patient(department))
        f.fracture(proc, type="pathological", site="acetabulum")
        f.fracture(proc, type="pathological", site="sacrum")
        f.fracture(proc, type="insufficiency", site="sacrum")

        def at_risk(**filters) -> int:
            return window(rates(user=head, **filters), "per_procedural")["at_risk"]

        assert at_risk(fracture_type="pathological") == 2
        assert at_risk(site="sacrum") == 2
        assert at_risk(fracture_type="pathological", site="sacrum") == 1
        assert at_risk(fracture_type="impending") == 0

    def test_the_procedure_unit_takes_procedures_with_a_selected_fracture_and_all_complications(
        self, department, head
    ):
        proc = f.procedure(f.patient(department))
        pathological = f.fracture(proc, type="pathological")
        insufficiency = f.fracture(proc, type="insufficiency")
        f.complication(proc, window="per_procedural", grade=1, fractures=[insufficiency])
        other = f.procedure(f.patient(department))
        f.fracture(other, type="insufficiency")

        procedures = rates(user=head, unit="procedure", fracture_type="pathological")
        assert counts(procedures, "per_procedural") == (1, 1, 1, 0)
        fractures = rates(user=head, fracture_type="pathological")
        assert counts(fractures, "per_procedural") == (0, 1, 0, 0)
        assert pathological.pk != insufficiency.pk

    def test_guidance_selects_procedures(self, department, head):
        case(department, guidance="ct")
        case(department, guidance="fluoroscopy", fractures=2)

        assert window(rates(user=head, guidance="fluoroscopy"), "per_procedural")["at_risk"] == 2
        assert window(rates(user=head, guidance="cbct"), "per_procedural")["at_risk"] == 0

    def test_operator_matches_part_of_the_operators_field_ignoring_case(self, department, head):
        case(department, operator="Dr Martin, Dr Durand")
        case(department, operator="Dr Petit")

        assert window(rates(user=head, operator="durand"), "per_procedural")["at_risk"] == 1
        assert window(rates(user=head, operator="Dr"), "per_procedural")["at_risk"] == 2

    def test_department_restricts_to_that_department(
        self, department, other_department, admin_user
    ):
        case(department)
        case(other_department, fractures=2)

        assert window(rates(user=admin_user), "per_procedural")["at_risk"] == 3
        assert (
            window(rates(user=admin_user, department=department), "per_procedural")["at_risk"] == 1
        )
        assert (
            window(rates(user=admin_user, department=other_department.pk), "per_procedural")[
                "at_risk"
            ]
            == 2
        )


@pytest.mark.django_db
class TestScoping:
    def test_the_outsider_sees_zero_of_another_departments_cases(self, department, outsider):
        proc, _ = case(department)
        f.follow_up(proc, hours_after_end=48)
        f.complication(proc, window="delayed", grade=3)

        for unit in ("fracture", "procedure", "patient"):
            result = rates(user=outsider, unit=unit)
            assert all(w["at_risk"] == 0 and w["events"] == 0 for w in result["windows"].values())
            assert result["by_term"] == [] and result["by_soc"] == []

    def test_a_department_filter_cannot_widen_the_users_scope(self, department, outsider):
        case(department)

        assert window(rates(user=outsider, department=department), "per_procedural")["at_risk"] == 0

    def test_an_empty_selection_has_zero_rates(self, head):
        result = rates(user=head)
        assert window(result, "delayed") == {
            "events": 0,
            "at_risk": 0,
            "rate": result["windows"]["delayed"]["rate"],
            "percent": result["windows"]["delayed"]["percent"],
            "ci95": result["windows"]["delayed"]["ci95"],
            "minor": 0,
            "major": 0,
        }


def build(department, procedures: int) -> None:
    """``procedures`` cases with two fractures, follow-ups and complications in every window."""
    start = datetime(2019, 1, 7, 9, tzinfo=PARIS)
    for i in range(procedures):
        proc, fractures = case(department, fractures=2, started_at=start + timedelta(days=7 * i))
        f.follow_up(proc, hours_after_end=2 if i % 2 else 72)
        window_name = ("per_procedural", "early", "delayed")[i % 3]
        f.complication(proc, window=window_name, grade=1 + i % 5, fractures=fractures[: 1 + i % 2])


@pytest.mark.django_db
@pytest.mark.parametrize("unit", ["fracture", "procedure", "patient"])
def test_rates_take_four_queries_however_many_cases(
    department, head, unit, django_assert_max_num_queries
):
    build(department, 5)
    with CaptureQueriesContext(connection) as small:
        rates(user=head, unit=unit)
    build(department, 45)
    # The windows, by term, the terms' names, by SOC.
    with django_assert_max_num_queries(4), CaptureQueriesContext(connection) as large:
        result = rates(user=head, unit=unit)
    assert len(small.captured_queries) == len(large.captured_queries)
    assert (
        window(result, "per_procedural")["at_risk"]
        == {"fracture": 100, "procedure": 50, "patient": 50}[unit]
    )


@pytest.mark.django_db
def test_the_demo_cohort_reproduces_the_reference_studys_rates(admin_user):
    """docs/domain.md section 5, through the services' grading and the selectors' counting."""
    build_cohort(Department.objects.create(code="DEMO", name="Demo", time_zone="Europe/Paris"))

    result = rates(user=admin_user)
    assert {name: counts(result, name) for name in result["windows"]} == {
        "per_procedural": (3, 110, 3, 0),
        "early": (4, 110, 3, 1),
        "delayed": (14, 79, 9, 5),
    }
    assert [window(result, name)["percent"] for name in result["windows"]] == [2.7, 3.6, 17.7]
    infection = most_frequent_major(result, "delayed", by="by_soc")
    assert [(r["soc"], r["major"], r["at_risk"], r["percent"]) for r in infection] == [
        ("Infections and infestations", 3, 79, 3.8)
    ]
