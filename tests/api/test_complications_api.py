"""/api/v1/complications/: facts graded by the core, onset rules, derived fields, roles, lists."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from complications.models import ComplicationEvent
from complications.services import complication_record
from tests import factories as f
from tests.api.conftest import MAX_LIST_QUERIES
from tests.factories import PARIS

URL = "/api/v1/complications/"
WOUND_INFECTION = "10048038"
BONE_INFECTION = "10061017"
PAIN_IN_EXTREMITY = "10033425"
MUSCULOSKELETAL_OTHER = "10028395"
CONTRACT_FIELDS = {
    "id",
    "procedure",
    "fractures",
    "term",
    "specify",
    "onset_at",
    "onset_date",
    "during_procedure",
    "facts",
    "grade_override",
    "override_reason",
    "description",
    "outcome",
    "term_name",
    "soc",
    "auto_grade",
    "grade",
    "grade_rationale",
    "severity",
    "window",
    "hours_after_end",
}


def detail(event: ComplicationEvent) -> str:
    return f"{URL}{event.pk}/"


@pytest.fixture
def procedure(department):
    proc = f.procedure(f.patient(department))  # 2020-01-06 09:00-10:30 Paris
    f.fracture(proc, site="sacrum")
    f.fracture(proc, site="iliac")
    return proc


def payload(proc, **overrides: object) -> dict[str, object]:
    return {
        "procedure": proc.pk,
        "term": WOUND_INFECTION,
        "onset_at": "2020-01-09T08:00:00+01:00",
        "facts": {"intervention": "iv"},
        **overrides,
    }


def record(proc, **kwargs: object) -> ComplicationEvent:
    values: dict[str, object] = {
        "term": WOUND_INFECTION,
        "facts": {"intervention": "oral"},
        "onset_at": proc.ended_at + timedelta(hours=72),
    }
    return complication_record(procedure=proc, **{**values, **kwargs})


@pytest.mark.django_db
class TestCreate:
    def test_it_derives_grade_severity_window_and_hours_from_the_facts_and_times(
        self, api, procedure
    ):
        response = api.post(URL, payload(procedure, outcome="resolved"), format="json")

        assert response.status_code == 201, response.json()
        body = response.json()
        assert CONTRACT_FIELDS <= set(body)
        assert body["term"] == WOUND_INFECTION
        assert (body["term_name"], body["soc"]) == (
            "Wound infection",
            "Infections and infestations",
        )
        assert (body["auto_grade"], body["grade"], body["severity"]) == (3, 3, "major")
        assert "IV antibiotic" in body["grade_rationale"]
        assert body["window"] == "delayed"
        assert body["hours_after_end"] == pytest.approx(69.5)
        assert body["facts"] == {"intervention": "iv"}
        assert sorted(body["fractures"]) == sorted(procedure.fractures.values_list("pk", flat=True))
        assert response["ETag"]

    def test_read_only_fields_in_the_body_are_ignored(self, api, procedure):
        response = api.post(
            URL,
            payload(procedure, grade=5, auto_grade=5, window="early", severity="minor"),
            format="json",
        )

        assert response.status_code == 201
        assert (response.json()["grade"], response.json()["window"]) == (3, "delayed")

    def test_an_event_during_the_procedure_is_per_procedural(self, api, procedure):
        response = api.post(
            URL,
            payload(
                procedure,
                onset_at=None,
                during_procedure=True,
                facts={"intervention": "local"},
                term=PAIN_IN_EXTREMITY,
            ),
            format="json",
        )

        assert response.status_code == 400  # Pain in extremity is graded by the pain itself
        response = api.post(
            URL,
            payload(
                procedure,
                onset_at=None,
                during_procedure=True,
                facts={"symptoms": "mild"},
                term=PAIN_IN_EXTREMITY,
            ),
            format="json",
        )

        assert response.status_code == 201, response.json()
        assert (response.json()["window"], response.json()["hours_after_end"]) == (
            "per_procedural",
            None,
        )
        assert response.json()["severity"] == "minor"

    def test_a_date_only_onset_inside_one_window_is_classified(self, api, procedure):
        response = api.post(
            URL, payload(procedure, onset_at=None, onset_date="2020-01-10"), format="json"
        )

        assert response.status_code == 201, response.json()
        assert (response.json()["window"], response.json()["hours_after_end"]) == ("delayed", None)

    def test_a_date_only_onset_that_straddles_two_windows_asks_for_the_time(self, api, procedure):
        response = api.post(
            URL, payload(procedure, onset_at=None, onset_date="2020-01-07"), format="json"
        )

        assert response.status_code == 400
        assert "onset_date" in response.json()

    @pytest.mark.parametrize(
        "onset",
        [
            {"onset_at": None},
            {"onset_date": "2020-01-10"},
            {"during_procedure": True},
            {"onset_at": None, "during_procedure": False},
            {"onset_at": None, "onset_date": "2020-01-10", "during_procedure": True},
        ],
    )
    def test_anything_but_exactly_one_onset_is_a_400(self, api, procedure, onset):
        response = api.post(URL, payload(procedure, **onset), format="json")

        assert response.status_code == 400
        assert "non_field_errors" in response.json()
        assert not ComplicationEvent.objects.exists()

    def test_an_onset_before_the_procedure_start_is_a_400(self, api, procedure):
        response = api.post(
            URL, payload(procedure, onset_at="2020-01-06T08:00:00+01:00"), format="json"
        )

        assert response.status_code == 400
        assert "onset_at" in response.json()

    def test_a_naive_onset_is_a_400(self, api, procedure):
        response = api.post(URL, payload(procedure, onset_at="2020-01-09T08:00:00"), format="json")

        assert response.status_code == 400
        assert "time zone" in response.json()["onset_at"][0]

    def test_facts_that_fit_no_grade_are_a_400_naming_the_terms_grades(self, api, procedure):
        response = api.post(
            URL, payload(procedure, term=BONE_INFECTION, facts={"symptoms": "mild"}), format="json"
        )

        assert response.status_code == 400
        message = response.json()["facts"][0]
        assert "Bone infection" in message and "grades 2, 3, 4, 5" in message

    def test_facts_beyond_the_terms_grades_are_a_400(self, api, procedure):
        response = api.post(
            URL, payload(procedure, term=PAIN_IN_EXTREMITY, facts={"death": True}), format="json"
        )

        assert response.status_code == 400
        assert "no grade 5" in response.json()["facts"][0]

    @pytest.mark.parametrize(
        ("facts", "named"),
        [
            ({"hospitalisation": True}, "hospitalisation"),
            ({"symptoms": "dreadful"}, "symptoms"),
            ({"intervention": "surgery"}, "intervention"),
            ({"transfusion_units": -1}, "transfusion_units"),
            ({"transfusion_units": 1.5}, "transfusion_units"),
            ({"hospitalization": "yes"}, "hospitalization"),
            ({"temperature_c": 375}, "temperature_c"),
            ({"temperature_c": "hot"}, "temperature_c"),
            ({"criteria": "Death"}, "criteria"),
            ({"criteria": ["Not a clause of this term"]}, "criteria"),
            ({"adl": ["self_care"]}, "adl"),
        ],
    )
    def test_an_unknown_fact_key_or_value_is_a_400_naming_it(self, api, procedure, facts, named):
        response = api.post(URL, payload(procedure, facts=facts), format="json")

        assert response.status_code == 400, response.content
        assert any(message.startswith(f"{named}:") for message in response.json()["facts"])
        assert not ComplicationEvent.objects.exists()

    @pytest.mark.parametrize("facts", [["intervention", "iv"], "iv", 3, True])
    def test_facts_that_are_not_an_object_are_a_400(self, api, procedure, facts):
        response = api.post(URL, payload(procedure, facts=facts), format="json")

        assert response.status_code == 400
        assert "facts" in response.json()

    def test_a_ticked_clause_of_the_terms_checklist_grades(self, api, procedure):
        response = api.post(
            URL,
            payload(procedure, facts={"criteria": ["  localized, LOCAL intervention indicated "]}),
            format="json",
        )

        assert response.status_code == 201, response.json()
        assert response.json()["grade"] == 1

    def test_an_other_specify_term_needs_its_specifying_text(self, api, procedure):
        facts = {"symptoms": "moderate"}
        missing = api.post(
            URL, payload(procedure, term=MUSCULOSKELETAL_OTHER, facts=facts), format="json"
        )
        given = api.post(
            URL,
            payload(procedure, term=MUSCULOSKELETAL_OTHER, facts=facts, specify="Screw migration"),
            format="json",
        )

        assert missing.status_code == 400 and "specify" in missing.json()
        assert given.status_code == 201, given.json()
        assert given.json()["specify"] == "Screw migration"

    @pytest.mark.parametrize("term", ["99999999", "", 10048038, ["10048038"], None])
    def test_a_term_that_is_not_a_meddra_code_of_the_catalogue_is_a_400(self, api, procedure, term):
        response = api.post(URL, payload(procedure, term=term), format="json")

        assert response.status_code == 400
        assert "term" in response.json()

    def test_an_override_needs_a_reason_and_keeps_the_automatic_grade(self, api, procedure):
        without = api.post(URL, payload(procedure, grade_override=4), format="json")
        with_reason = api.post(
            URL,
            payload(procedure, grade_override=4, override_reason="Septic shock next day"),
            format="json",
        )

        assert without.status_code == 400 and "override_reason" in without.json()
        assert with_reason.status_code == 201
        body = with_reason.json()
        assert (body["auto_grade"], body["grade_override"], body["grade"]) == (3, 4, 4)
        assert body["severity"] == "major"

    @pytest.mark.parametrize("override", [0, 6, "high", 2.5])
    def test_an_override_outside_1_to_5_is_a_400(self, api, procedure, override):
        response = api.post(
            URL, payload(procedure, grade_override=override, override_reason="r"), format="json"
        )

        assert response.status_code == 400
        assert "grade_override" in response.json()

    def test_an_override_to_a_grade_the_term_lacks_is_a_400(self, api, procedure):
        response = api.post(
            URL,
            payload(
                procedure,
                term=BONE_INFECTION,
                facts={"intervention": "oral"},
                grade_override=1,
                override_reason="Mild",
            ),
            format="json",
        )

        assert response.status_code == 400
        assert "grade_override" in response.json()

    def test_the_fractures_named_must_be_the_procedures(self, api, procedure, department):
        elsewhere = f.fracture(f.procedure(f.patient(department)))
        sacrum = procedure.fractures.get(site="sacrum")

        own = api.post(URL, payload(procedure, fractures=[sacrum.pk]), format="json")
        foreign = api.post(URL, payload(procedure, fractures=[elsewhere.pk]), format="json")

        assert own.status_code == 201 and own.json()["fractures"] == [sacrum.pk]
        assert foreign.status_code == 400 and "fractures" in foreign.json()
        assert ComplicationEvent.objects.count() == 1

    def test_outcome_facts_give_the_cirse_grade_and_sir_class(self, api, procedure):
        response = api.post(
            URL,
            payload(
                procedure, outcome_facts={"additional_therapy": "therapy", "extra_stay_hours": 72}
            ),
            format="json",
        )

        assert response.status_code == 201, response.json()
        assert (response.json()["cirse_grade"], response.json()["sir_class"]) == (3, "D")

    @pytest.mark.parametrize(
        "outcome_facts",
        [{"sequelae": "terrible"}, {"stay": 3}, {"extra_stay_hours": -1}, "none"],
    )
    def test_bad_outcome_facts_are_a_400(self, api, procedure, outcome_facts):
        response = api.post(URL, payload(procedure, outcome_facts=outcome_facts), format="json")

        assert response.status_code == 400
        assert "outcome_facts" in response.json()

    @pytest.mark.parametrize(
        "changes",
        [
            {"outcome": "cured"},
            {"relatedness": "maybe"},
            {"procedure": None},
            {"procedure": 10**30},
            {"onset_date": "2020-02-30"},
            {"onset_at": "0001-01-01T00:00:00+14:00"},
            {"during_procedure": "sometimes"},
            {"fractures": [0]},
            {"description": ["a"]},
        ],
    )
    def test_a_wrong_value_or_type_is_a_400_never_a_500(self, api, procedure, changes):
        response = api.post(URL, {**payload(procedure), **changes}, format="json")

        assert response.status_code == 400, response.content
        assert not ComplicationEvent.objects.exists()

    def test_a_procedure_of_another_department_does_not_exist(self, api, other_department):
        foreign = f.procedure(f.patient(other_department))

        response = api.post(URL, payload(foreign), format="json")

        assert response.status_code == 400
        assert "does not exist" in response.json()["procedure"][0]


@pytest.mark.django_db
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    facts=st.dictionaries(
        st.sampled_from(
            [
                "symptoms",
                "intervention",
                "transfusion_units",
                "hospitalization",
                "temperature_c",
                "criteria",
                "adl",
                "unknown",
            ]
        ),
        st.none()
        | st.booleans()
        | st.integers(-(10**20), 10**20)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=20)
        | st.lists(st.text(max_size=10), max_size=3),
        max_size=4,
    )
)
def test_no_facts_object_ever_gives_a_500(api, procedure, facts):
    response = api.post(URL, payload(procedure, facts=facts), format="json")

    assert response.status_code in (201, 400), response.content


@pytest.mark.django_db
class TestUpdate:
    def test_patching_the_facts_regrades(self, api, procedure):
        event = record(procedure)  # oral: grade 2

        response = api.patch(detail(event), {"facts": {"intervention": "invasive"}}, format="json")

        assert response.status_code == 200, response.json()
        assert (response.json()["auto_grade"], response.json()["severity"]) == (3, "major")
        event.refresh_from_db()
        assert event.grade == 3

    def test_patching_the_onset_from_a_date_to_a_time_needs_only_the_time(self, api, procedure):
        event = record(procedure, onset_at=None, onset_date=datetime(2020, 1, 10).date())

        response = api.patch(
            detail(event), {"onset_at": "2020-01-06T12:30:00+01:00"}, format="json"
        )

        assert response.status_code == 200, response.json()
        body = response.json()
        assert (body["onset_date"], body["window"], body["hours_after_end"]) == (None, "early", 2.0)

    def test_a_patch_that_fails_changes_nothing(self, api, procedure):
        event = record(procedure)

        response = api.patch(
            detail(event), {"facts": {"death": True}, "term": PAIN_IN_EXTREMITY}, format="json"
        )

        assert response.status_code == 400
        event.refresh_from_db()
        assert (event.term_id, event.facts, event.grade) == (
            WOUND_INFECTION,
            {"intervention": "oral"},
            2,
        )

    def test_the_procedure_cannot_be_changed(self, api, procedure, department):
        event = record(procedure)
        other = f.procedure(f.patient(department))

        response = api.patch(detail(event), {"procedure": other.pk}, format="json")

        assert response.status_code == 400
        assert "procedure" in response.json()

    def test_put_replaces_the_complication(self, api, procedure):
        event = record(procedure)

        response = api.put(detail(event), payload(procedure, description="Pus"), format="json")

        assert response.status_code == 200, response.json()
        assert (response.json()["grade"], response.json()["description"]) == (3, "Pus")

    def test_clearing_an_override_keeps_the_automatic_grade(self, api, procedure):
        event = record(procedure, grade_override=3, override_reason="Worse than it looks")

        response = api.patch(
            detail(event), {"grade_override": None, "override_reason": ""}, format="json"
        )

        assert response.status_code == 200, response.json()
        assert (response.json()["grade"], response.json()["grade_override"]) == (2, None)

    def test_delete(self, api, procedure):
        event = record(procedure)

        assert api.delete(detail(event)).status_code == 204
        assert not ComplicationEvent.objects.exists()


@pytest.mark.django_db
class TestRolesAndDepartments:
    def test_the_outsider_gets_404(self, outsider_api, procedure):
        event = record(procedure)

        assert outsider_api.get(detail(event)).status_code == 404
        assert (
            outsider_api.patch(detail(event), {"description": "x"}, format="json").status_code
            == 404
        )
        assert outsider_api.delete(detail(event)).status_code == 404
        assert outsider_api.get(URL).json()["count"] == 0

    @pytest.mark.parametrize("persona", ["head_api", "reader_api"])
    def test_read_only_roles_get_403_on_writes(self, persona, request, procedure):
        client = request.getfixturevalue(persona)
        event = record(procedure)

        assert client.get(detail(event)).status_code == 200
        assert client.post(URL, payload(procedure), format="json").status_code == 403
        assert client.patch(detail(event), {"description": "x"}, format="json").status_code == 403
        assert client.delete(detail(event)).status_code == 403
        assert ComplicationEvent.objects.count() == 1

    def test_the_data_manager_records_a_complication(self, manager_api, procedure, data_manager):
        response = manager_api.post(URL, payload(procedure), format="json")

        assert response.status_code == 201
        assert ComplicationEvent.objects.get().created_by == data_manager


@pytest.mark.django_db
class TestList:
    def test_filters_on_the_main_fields(self, api, procedure, department):
        later = f.procedure(f.patient(department), started_at=datetime(2020, 3, 2, 9, tzinfo=PARIS))
        f.fracture(later)
        delayed = record(procedure)  # grade 2, 2020-01-09
        early = record(
            procedure,
            facts={"intervention": "iv"},
            onset_at=procedure.ended_at + timedelta(hours=3),
        )
        during = record(
            later,
            term=PAIN_IN_EXTREMITY,
            facts={"symptoms": "mild"},
            onset_at=None,
            during_procedure=True,
        )

        def ids(query: str) -> set[int]:
            response = api.get(URL + query)
            assert response.status_code == 200, response.json()
            return {x["id"] for x in response.json()["results"]}

        assert ids(f"?procedure={later.pk}") == {during.pk}
        assert ids(f"?term={PAIN_IN_EXTREMITY}") == {during.pk}
        assert ids("?grade=3") == {early.pk}
        assert ids("?severity=minor") == {delayed.pk, during.pk}
        assert ids("?severity=major") == {early.pk}
        assert ids("?window=early") == {early.pk}
        assert ids("?soc=musculoskeletal") == {during.pk}
        assert ids("?onset_after=2020-01-07") == {delayed.pk, during.pk}
        assert ids("?onset_before=2020-01-06") == {early.pk}
        assert ids(f"?department={department.pk}") == {delayed.pk, early.pk, during.pk}

    @pytest.mark.parametrize(
        "query", ["?grade=6", "?window=late", "?severity=bad", "?onset_after=yesterday"]
    )
    def test_a_bad_filter_value_is_a_400(self, api, query):
        assert api.get(URL + query).status_code == 400

    def test_ordering_by_grade(self, api, procedure):
        low = record(procedure)
        high = record(procedure, facts={"intervention": "iv"})

        results = api.get(URL + "?ordering=-grade").json()["results"]

        assert [x["id"] for x in results] == [high.pk, low.pk]

    def test_the_number_of_queries_does_not_grow_with_the_records(
        self, api, procedure, count_queries
    ):
        def build(n: int) -> None:
            for _ in range(n):
                record(procedure)

        build(5)
        with_5 = count_queries(lambda: api.get(URL + "?page_size=500"))
        build(25)
        with_30 = count_queries(lambda: api.get(URL + "?page_size=500"))

        assert with_5 == with_30, (with_5, with_30)
        assert with_30 <= MAX_LIST_QUERIES, with_30
