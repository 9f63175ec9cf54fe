"""/api/v1/procedures/: times, choices, re-derived complication windows, deletion, lists."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from complications.models import ComplicationEvent
from complications.services import complication_record
from registry.models import Fracture, Procedure
from tests import factories as f
from tests.api.conftest import MAX_LIST_QUERIES
from tests.factories import PARIS

URL = "/api/v1/procedures/"
CONTRACT_FIELDS = {"id", "patient", "started_at", "ended_at", "guidance", "anesthesia", "operator"}


def detail(procedure: Procedure) -> str:
    return f"{URL}{procedure.pk}/"


@pytest.fixture
def patient(department):
    return f.patient(department)


def payload(owner, **overrides: object) -> dict[str, object]:
    return {
        "patient": owner.pk,
        "started_at": "2020-03-04T09:15:00+01:00",
        "ended_at": "2020-03-04T10:45:00+01:00",
        "guidance": "ct",
        "anesthesia": "general",
        **overrides,
    }


@pytest.mark.django_db
class TestCreate:
    def test_a_radiologist_records_a_procedure(self, api, patient):
        response = api.post(URL, payload(patient, operator="Dr A"), format="json")

        assert response.status_code == 201, response.json()
        body = response.json()
        assert CONTRACT_FIELDS <= set(body)
        assert body["patient"] == patient.pk
        assert datetime.fromisoformat(body["started_at"]) == datetime(
            2020, 3, 4, 9, 15, tzinfo=PARIS
        )
        assert body["operator"] == "Dr A"

    def test_the_operator_is_optional(self, api, patient):
        response = api.post(URL, payload(patient), format="json")

        assert response.status_code == 201
        assert response.json()["operator"] == ""

    def test_a_naive_datetime_is_a_400(self, api, patient):
        response = api.post(URL, payload(patient, started_at="2020-03-04T09:15:00"), format="json")

        assert response.status_code == 400
        assert "time zone" in response.json()["started_at"][0]
        assert not Procedure.objects.exists()

    def test_an_end_before_the_start_is_a_400(self, api, patient):
        response = api.post(
            URL, payload(patient, ended_at="2020-03-04T08:00:00+01:00"), format="json"
        )

        assert response.status_code == 400
        assert "ended_at" in response.json()

    def test_a_start_in_the_future_is_a_400(self, api, patient):
        start = datetime.now(PARIS) + timedelta(days=2)
        response = api.post(
            URL,
            payload(
                patient,
                started_at=start.isoformat(),
                ended_at=(start + timedelta(hours=1)).isoformat(),
            ),
            format="json",
        )

        assert response.status_code == 400
        assert "started_at" in response.json()

    def test_a_patient_of_another_department_does_not_exist(self, api, other_department):
        foreign = f.patient(other_department)

        response = api.post(URL, payload(foreign), format="json")

        assert response.status_code == 400
        assert "does not exist" in response.json()["patient"][0]

    @pytest.mark.parametrize(
        "changes",
        [
            {"guidance": "mri"},
            {"anesthesia": "none"},
            {"started_at": "yesterday"},
            {"started_at": "0001-01-01T00:00:00+14:00"},
            {"ended_at": "9999-12-31T23:59:59-12:00"},
            {"started_at": 1583309700},
            {"patient": 10**30},
            {"patient": "x"},
            {"operator": {"name": "A"}},
            {"operator": "x" * 201},
        ],
    )
    def test_a_wrong_value_or_type_is_a_400_never_a_500(self, api, patient, changes):
        response = api.post(URL, {**payload(patient), **changes}, format="json")

        assert response.status_code == 400, response.content
        assert set(response.json()) <= {*changes, "non_field_errors"}


@pytest.mark.django_db
class TestUpdate:
    def test_changing_the_times_re_derives_the_complications_window(self, api, patient):
        procedure = f.procedure(patient)  # 09:00-10:30 Paris
        event = complication_record(
            procedure=procedure,
            term="10048038",
            facts={"intervention": "iv"},
            onset_at=procedure.ended_at + timedelta(hours=30),
        )
        assert event.window == "delayed"
        later_end = procedure.ended_at + timedelta(hours=10)

        response = api.patch(detail(procedure), {"ended_at": later_end.isoformat()}, format="json")

        assert response.status_code == 200, response.json()
        event.refresh_from_db()
        assert event.window == "early"
        assert event.hours_after_end == pytest.approx(20.0)

    def test_a_change_that_puts_a_complication_before_the_start_changes_nothing(self, api, patient):
        procedure = f.procedure(patient)
        complication_record(
            procedure=procedure,
            term="10048038",
            facts={"intervention": "iv"},
            onset_at=procedure.ended_at + timedelta(hours=2),
        )
        new_start = procedure.ended_at + timedelta(hours=5)

        response = api.patch(
            detail(procedure),
            {
                "started_at": new_start.isoformat(),
                "ended_at": (new_start + timedelta(hours=1)).isoformat(),
            },
            format="json",
        )

        assert response.status_code == 400
        procedure.refresh_from_db()
        assert procedure.started_at == datetime(2020, 1, 6, 9, 0, tzinfo=PARIS)
        assert ComplicationEvent.objects.get().window == "early"

    def test_put_replaces_every_field(self, api, patient):
        procedure = f.procedure(patient, operator="Dr A")

        response = api.put(detail(procedure), payload(patient, guidance="cbct"), format="json")

        assert response.status_code == 200
        procedure.refresh_from_db()
        assert (procedure.guidance, procedure.started_at.year) == ("cbct", 2020)


@pytest.mark.django_db
class TestDelete:
    def test_a_procedure_with_complications_cannot_be_deleted(self, api, patient):
        procedure = f.procedure(patient)
        f.complication(procedure, window="early", grade=2)

        response = api.delete(detail(procedure))

        assert response.status_code == 400
        assert "complication" in response.json()["non_field_errors"][0]
        assert Procedure.objects.filter(pk=procedure.pk).exists()

    def test_deleting_a_procedure_deletes_its_fractures_and_follow_ups(self, api, patient):
        procedure = f.procedure(patient)
        f.fracture(procedure)
        f.follow_up(procedure, hours_after_end=24)

        response = api.delete(detail(procedure))

        assert response.status_code == 204
        assert not Procedure.objects.exists() and not Fracture.objects.exists()


@pytest.mark.django_db
class TestRolesAndDepartments:
    def test_the_outsider_gets_404(self, outsider_api, patient):
        procedure = f.procedure(patient)

        assert outsider_api.get(detail(procedure)).status_code == 404
        assert (
            outsider_api.patch(detail(procedure), {"operator": "x"}, format="json").status_code
            == 404
        )
        assert outsider_api.delete(detail(procedure)).status_code == 404
        assert outsider_api.get(URL).json()["count"] == 0

    def test_the_head_gets_403_on_writes(self, head_api, patient):
        procedure = f.procedure(patient)

        assert head_api.get(detail(procedure)).status_code == 200
        assert head_api.post(URL, payload(patient), format="json").status_code == 403
        assert (
            head_api.patch(detail(procedure), {"operator": "x"}, format="json").status_code == 403
        )
        assert head_api.delete(detail(procedure)).status_code == 403

    def test_the_data_manager_corrects_a_procedure(self, manager_api, patient):
        procedure = f.procedure(patient)

        response = manager_api.patch(detail(procedure), {"anesthesia": "local"}, format="json")

        assert response.status_code == 200


@pytest.mark.django_db
class TestList:
    def test_filters_on_the_main_fields(self, api, patient, department):
        other = f.patient(department)
        january = f.procedure(
            patient,
            started_at=datetime(2020, 1, 6, 9, tzinfo=PARIS),
            guidance="ct",
            anesthesia="general",
            operator="Dr Martin",
        )
        march = f.procedure(
            other,
            started_at=datetime(2020, 3, 2, 9, tzinfo=PARIS),
            guidance="cbct",
            anesthesia="local",
            operator="Dr Durand",
        )

        def ids(query: str) -> set[int]:
            response = api.get(URL + query)
            assert response.status_code == 200, response.json()
            return {p["id"] for p in response.json()["results"]}

        assert ids(f"?patient={patient.pk}") == {january.pk}
        assert ids("?guidance=cbct") == {march.pk}
        assert ids("?anesthesia=general") == {january.pk}
        assert ids("?operator=martin") == {january.pk}
        assert ids("?started_after=2020-02-01") == {march.pk}
        assert ids("?started_before=2020-01-06") == {january.pk}
        assert ids(f"?department={department.pk}") == {january.pk, march.pk}

    @pytest.mark.parametrize("query", ["?guidance=mri", "?started_after=2020-13-01", "?patient=x"])
    def test_a_bad_filter_value_is_a_400(self, api, query):
        assert api.get(URL + query).status_code == 400

    def test_ordering_by_start(self, api, patient):
        first = f.procedure(patient, started_at=datetime(2019, 1, 1, 9, tzinfo=PARIS))
        second = f.procedure(patient, started_at=datetime(2020, 1, 1, 9, tzinfo=PARIS))

        results = api.get(URL + "?ordering=started_at").json()["results"]

        assert [p["id"] for p in results] == [first.pk, second.pk]

    def test_the_number_of_queries_does_not_grow_with_the_records(
        self, api, department, count_queries
    ):
        def build(n: int) -> None:
            for _ in range(n):
                f.procedure(f.patient(department))

        build(5)
        with_5 = count_queries(lambda: api.get(URL + "?page_size=500"))
        build(25)
        with_30 = count_queries(lambda: api.get(URL + "?page_size=500"))

        assert with_5 == with_30, (with_5, with_30)
        assert with_30 <= MAX_LIST_QUERIES, with_30
