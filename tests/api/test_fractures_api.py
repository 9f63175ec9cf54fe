"""/api/v1/fractures/: choices, screws, the procedure it belongs to, roles, lists."""

from __future__ import annotations

import pytest

from registry.models import Fracture
from tests import factories as f
from tests.api.conftest import MAX_LIST_QUERIES

URL = "/api/v1/fractures/"
CONTRACT_FIELDS = {"id", "procedure", "type", "site", "side", "screws", "cement_augmented"}


def detail(fracture: Fracture) -> str:
    return f"{URL}{fracture.pk}/"


@pytest.fixture
def procedure(department):
    return f.procedure(f.patient(department))


def payload(proc, **overrides: object) -> dict[str, object]:
    return {
        "procedure": proc.pk,
        "type": "pathological",
        "site": "acetabulum",
        "side": "right",
        "screws": 2,
        **overrides,
    }


@pytest.mark.django_db
class TestCreate:
    def test_a_radiologist_records_a_fracture(self, api, procedure):
        response = api.post(URL, payload(procedure, aetiology="metastasis"), format="json")

        assert response.status_code == 201, response.json()
        body = response.json()
        assert CONTRACT_FIELDS <= set(body)
        assert body["cement_augmented"] is False
        assert (body["type"], body["site"], body["side"], body["screws"]) == (
            "pathological",
            "acetabulum",
            "right",
            2,
        )
        assert body["aetiology"] == "metastasis"

    def test_the_aetiology_is_optional(self, api, procedure):
        response = api.post(URL, payload(procedure), format="json")

        assert response.status_code == 201
        assert response.json()["aetiology"] == ""

    @pytest.mark.parametrize(
        "changes",
        [
            {"screws": 0},
            {"screws": -1},
            {"screws": 1.5},
            {"screws": "many"},
            {"type": "traumatic"},
            {"site": "skull"},
            {"side": "both"},
            {"aetiology": "trauma"},
            {"cement_augmented": "perhaps"},
            {"procedure": None},
        ],
    )
    def test_a_wrong_value_or_type_is_a_400_never_a_500(self, api, procedure, changes):
        response = api.post(URL, {**payload(procedure), **changes}, format="json")

        assert response.status_code == 400, response.content
        assert set(response.json()) == set(changes)
        assert not Fracture.objects.exists()

    def test_a_procedure_of_another_department_does_not_exist(self, api, other_department):
        foreign = f.procedure(f.patient(other_department))

        response = api.post(URL, payload(foreign), format="json")

        assert response.status_code == 400
        assert "does not exist" in response.json()["procedure"][0]


@pytest.mark.django_db
class TestUpdateAndDelete:
    def test_patch_changes_the_screws(self, api, procedure):
        fracture = f.fracture(procedure)

        response = api.patch(
            detail(fracture), {"screws": 3, "cement_augmented": True}, format="json"
        )

        assert response.status_code == 200
        fracture.refresh_from_db()
        assert (fracture.screws, fracture.cement_augmented) == (3, True)

    def test_put_may_repeat_the_procedure_but_not_change_it(self, api, procedure, department):
        fracture = f.fracture(procedure)
        other = f.procedure(f.patient(department))

        same = api.put(detail(fracture), payload(procedure), format="json")
        moved = api.put(detail(fracture), payload(other), format="json")

        assert same.status_code == 200
        assert moved.status_code == 400
        assert "procedure" in moved.json()
        fracture.refresh_from_db()
        assert fracture.procedure == procedure

    def test_delete(self, api, procedure):
        fracture = f.fracture(procedure)

        assert api.delete(detail(fracture)).status_code == 204
        assert not Fracture.objects.exists()


@pytest.mark.django_db
class TestRolesAndDepartments:
    def test_the_outsider_gets_404(self, outsider_api, procedure):
        fracture = f.fracture(procedure)

        assert outsider_api.get(detail(fracture)).status_code == 404
        assert outsider_api.patch(detail(fracture), {"screws": 4}, format="json").status_code == 404
        assert outsider_api.delete(detail(fracture)).status_code == 404

    @pytest.mark.parametrize("persona", ["head_api", "reader_api"])
    def test_read_only_roles_get_403_on_writes(self, persona, request, procedure):
        client = request.getfixturevalue(persona)
        fracture = f.fracture(procedure)

        assert client.get(detail(fracture)).status_code == 200
        assert client.post(URL, payload(procedure), format="json").status_code == 403
        assert client.patch(detail(fracture), {"screws": 4}, format="json").status_code == 403
        assert client.delete(detail(fracture)).status_code == 403


@pytest.mark.django_db
class TestList:
    def test_filters_on_procedure_type_site_and_side(self, api, procedure, department):
        other = f.procedure(f.patient(department))
        sacrum = f.fracture(procedure, type="insufficiency", site="sacrum", side="left")
        iliac = f.fracture(other, type="pathological", site="iliac", side="right")

        def ids(query: str) -> set[int]:
            return {x["id"] for x in api.get(URL + query).json()["results"]}

        assert ids(f"?procedure={procedure.pk}") == {sacrum.pk}
        assert ids("?type=pathological") == {iliac.pk}
        assert ids("?site=sacrum") == {sacrum.pk}
        assert ids("?side=right") == {iliac.pk}
        assert ids(f"?department={department.pk}") == {sacrum.pk, iliac.pk}

    def test_a_bad_filter_value_is_a_400(self, api):
        assert api.get(URL + "?site=skull").status_code == 400

    def test_the_number_of_queries_does_not_grow_with_the_records(
        self, api, procedure, count_queries
    ):
        for _ in range(5):
            f.fracture(procedure)
        with_5 = count_queries(lambda: api.get(URL + "?page_size=500"))
        for _ in range(25):
            f.fracture(procedure)
        with_30 = count_queries(lambda: api.get(URL + "?page_size=500"))

        assert with_5 == with_30, (with_5, with_30)
        assert with_30 <= MAX_LIST_QUERIES, with_30


def test_a_fracture_that_a_complication_concerns_cannot_be_deleted(api, department):
    from datetime import timedelta

    from complications.services import complication_record
    from tests import factories

    procedure = factories.procedure(factories.patient(department))
    fracture = factories.fracture(procedure)
    complication_record(
        procedure=procedure,
        term="10033425",
        facts={"symptoms": "mild"},
        onset_at=procedure.ended_at + timedelta(hours=2),
    )
    response = api.delete(f"/api/v1/fractures/{fracture.pk}/")
    assert response.status_code == 400
    assert "complication" in response.json()["non_field_errors"][0]
    assert procedure.fractures.count() == 1
