"""/api/v1/follow-ups/: the fractures covered, the contact time, roles, lists."""

from __future__ import annotations

from datetime import datetime

import pytest

from registry.models import FollowUp
from tests import factories as f
from tests.api.conftest import MAX_LIST_QUERIES
from tests.factories import PARIS

URL = "/api/v1/follow-ups/"
CONTRACT_FIELDS = {"id", "procedure", "fractures", "contact_at", "kind"}


def detail(follow_up: FollowUp) -> str:
    return f"{URL}{follow_up.pk}/"


@pytest.fixture
def procedure(department):
    proc = f.procedure(f.patient(department))  # 2020-01-06 09:00-10:30 Paris
    f.fracture(proc, site="sacrum")
    f.fracture(proc, site="iliac")
    return proc


def payload(proc, **overrides: object) -> dict[str, object]:
    return {
        "procedure": proc.pk,
        "contact_at": "2020-01-07T10:00:00+01:00",
        "kind": "clinical",
        **overrides,
    }


@pytest.mark.django_db
class TestCreate:
    def test_absent_fractures_mean_all_of_the_procedures(self, api, procedure):
        response = api.post(URL, payload(procedure), format="json")

        assert response.status_code == 201, response.json()
        body = response.json()
        assert CONTRACT_FIELDS <= set(body)
        assert sorted(body["fractures"]) == sorted(procedure.fractures.values_list("pk", flat=True))

    def test_an_empty_list_means_all_of_them_too(self, api, procedure):
        response = api.post(URL, payload(procedure, fractures=[]), format="json")

        assert len(response.json()["fractures"]) == 2

    def test_it_covers_the_fractures_named(self, api, procedure):
        sacrum = procedure.fractures.get(site="sacrum")

        response = api.post(URL, payload(procedure, fractures=[sacrum.pk]), format="json")

        assert response.json()["fractures"] == [sacrum.pk]

    def test_a_fracture_of_another_procedure_is_a_400_and_nothing_is_written(
        self, api, procedure, department
    ):
        elsewhere = f.fracture(f.procedure(f.patient(department)))

        response = api.post(URL, payload(procedure, fractures=[elsewhere.pk]), format="json")

        assert response.status_code == 400
        assert str(elsewhere.pk) in response.json()["fractures"][0]
        assert not FollowUp.objects.exists()

    def test_a_contact_before_the_procedure_start_is_a_400(self, api, procedure):
        response = api.post(
            URL, payload(procedure, contact_at="2020-01-06T08:00:00+01:00"), format="json"
        )

        assert response.status_code == 400
        assert "contact_at" in response.json()

    @pytest.mark.parametrize(
        "changes",
        [
            {"contact_at": "2020-01-07T10:00:00"},
            {"contact_at": "2020-01-07"},
            {"kind": "email"},
            {"fractures": "all"},
            {"fractures": [1.5]},
            {"fractures": [True]},
            {"fractures": [10**30]},
            {"fractures": [{"id": 1}]},
            {"procedure": 10**30},
        ],
    )
    def test_a_wrong_value_or_type_is_a_400_never_a_500(self, api, procedure, changes):
        response = api.post(URL, {**payload(procedure), **changes}, format="json")

        assert response.status_code == 400, response.content
        assert set(response.json()) == set(changes)
        assert not FollowUp.objects.exists()


@pytest.mark.django_db
class TestUpdate:
    def test_patch_narrows_the_fractures_covered(self, api, procedure):
        follow_up = f.follow_up(procedure, hours_after_end=24)
        iliac = procedure.fractures.get(site="iliac")

        response = api.patch(detail(follow_up), {"fractures": [iliac.pk]}, format="json")

        assert response.status_code == 200
        assert list(follow_up.fractures.values_list("pk", flat=True)) == [iliac.pk]

    def test_patch_without_fractures_keeps_them(self, api, procedure):
        follow_up = f.follow_up(procedure, hours_after_end=24)

        response = api.patch(detail(follow_up), {"kind": "phone"}, format="json")

        assert response.status_code == 200
        assert follow_up.fractures.count() == 2


@pytest.mark.django_db
class TestRolesAndDepartments:
    def test_the_outsider_gets_404(self, outsider_api, procedure):
        follow_up = f.follow_up(procedure, hours_after_end=24)

        assert outsider_api.get(detail(follow_up)).status_code == 404
        assert (
            outsider_api.patch(detail(follow_up), {"kind": "phone"}, format="json").status_code
            == 404
        )
        assert outsider_api.delete(detail(follow_up)).status_code == 404

    def test_the_head_gets_403_on_writes(self, head_api, procedure):
        follow_up = f.follow_up(procedure, hours_after_end=24)

        assert head_api.get(detail(follow_up)).status_code == 200
        assert head_api.post(URL, payload(procedure), format="json").status_code == 403
        assert head_api.delete(detail(follow_up)).status_code == 403

    def test_the_radiologist_deletes_a_follow_up(self, api, procedure):
        follow_up = f.follow_up(procedure, hours_after_end=24)

        assert api.delete(detail(follow_up)).status_code == 204
        assert not FollowUp.objects.exists()


@pytest.mark.django_db
class TestList:
    def test_filters_on_procedure_kind_and_dates(self, api, procedure, department):
        other = f.procedure(f.patient(department), started_at=datetime(2020, 5, 4, 9, tzinfo=PARIS))
        first = f.follow_up(procedure, hours_after_end=2, kind="clinical")
        later = f.follow_up(other, hours_after_end=72, kind="phone")

        def ids(query: str) -> set[int]:
            response = api.get(URL + query)
            assert response.status_code == 200, response.json()
            return {x["id"] for x in response.json()["results"]}

        assert ids(f"?procedure={procedure.pk}") == {first.pk}
        assert ids("?kind=phone") == {later.pk}
        assert ids("?contact_after=2020-02-01") == {later.pk}
        assert ids("?contact_before=2020-01-06") == {first.pk}
        assert ids(f"?department={department.pk}") == {first.pk, later.pk}

    def test_the_number_of_queries_does_not_grow_with_the_records(
        self, api, procedure, count_queries
    ):
        def build(n: int) -> None:
            for i in range(n):
                f.follow_up(procedure, hours_after_end=1 + i)

        build(5)
        with_5 = count_queries(lambda: api.get(URL + "?page_size=500"))
        build(25)
        with_30 = count_queries(lambda: api.get(URL + "?page_size=500"))

        assert with_5 == with_30, (with_5, with_30)
        assert with_30 <= MAX_LIST_QUERIES, with_30
