"""/api/v1/departments/: members see their own; only administrators create or change them."""

from __future__ import annotations

from datetime import date

import pytest

from complications.services import complication_record
from registry.models import Department
from tests import factories as f

URL = "/api/v1/departments/"
CONTRACT_FIELDS = {"id", "code", "name", "time_zone"}


def detail(department: Department) -> str:
    return f"{URL}{department.pk}/"


@pytest.mark.django_db
class TestReading:
    def test_a_member_lists_only_the_departments_they_belong_to(
        self, api, department, other_department
    ):
        body = api.get(URL).json()

        assert body["count"] == 1
        (only,) = body["results"]
        assert CONTRACT_FIELDS <= set(only)
        assert (only["code"], only["time_zone"]) == ("A", "Europe/Paris")

    def test_an_administrator_lists_every_department(self, admin_api, department, other_department):
        assert admin_api.get(URL).json()["count"] == 2

    def test_the_list_filters_by_id_and_code(self, admin_api, department, other_department):
        by_id = admin_api.get(f"{URL}?department={other_department.pk}").json()["results"]
        by_code = admin_api.get(f"{URL}?code=A").json()["results"]

        assert [d["code"] for d in by_id] == ["B"]
        assert [d["id"] for d in by_code] == [department.pk]

    def test_another_department_is_a_404(self, api, other_department):
        assert api.get(detail(other_department)).status_code == 404

    def test_a_read_only_role_reads_its_department(self, head_api, department):
        response = head_api.get(detail(department))

        assert response.status_code == 200
        assert response["ETag"]


@pytest.mark.django_db
class TestWriting:
    def payload(self, **overrides: object) -> dict[str, object]:
        return {"code": "C", "name": "Department C", "time_zone": "Europe/Berlin", **overrides}

    def test_an_administrator_creates_a_department(self, admin_api):
        response = admin_api.post(URL, self.payload(), format="json")

        assert response.status_code == 201, response.json()
        assert Department.objects.get(code="C").time_zone == "Europe/Berlin"

    @pytest.mark.parametrize("persona", ["api", "head_api", "manager_api"])
    def test_nobody_else_creates_or_changes_departments(self, persona, request, department):
        client = request.getfixturevalue(persona)

        assert client.post(URL, self.payload(), format="json").status_code == 403
        assert client.patch(detail(department), {"name": "X"}, format="json").status_code == 403
        assert client.delete(detail(department)).status_code == 403
        department.refresh_from_db()
        assert department.name == "Department A"

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"time_zone": "Mars/Olympus"}, "time_zone"),
            ({"code": "A"}, "code"),
            ({"code": ""}, "code"),
            ({"name": None}, "name"),
            ({"code": "x" * 33}, "code"),
        ],
    )
    def test_a_bad_department_is_a_400(self, admin_api, department, changes, field):
        response = admin_api.post(URL, self.payload(**changes), format="json")

        assert response.status_code == 400
        assert field in response.json()

    def test_an_administrator_renames_a_department(self, admin_api, department):
        response = admin_api.patch(
            detail(department), {"name": "Interventional radiology"}, format="json"
        )

        assert response.status_code == 200
        department.refresh_from_db()
        assert department.name == "Interventional radiology"

    def test_a_time_zone_that_makes_a_date_only_onset_ambiguous_is_refused_as_a_whole(
        self, admin_api, department
    ):
        """Date-only onsets are classified by the department's local day, so they are re-derived.

        The procedure ends on 2020-01-06 at 09:30 UTC. In Pago Pago (UTC-11) the whole of
        2020-01-07 is 24 h or more after it (delayed); in Paris that day straddles the boundary.
        """
        department.time_zone = "Pacific/Pago_Pago"
        department.save()
        procedure = f.procedure(f.patient(department))
        event = complication_record(
            procedure=procedure,
            term="10048038",
            facts={"intervention": "oral"},
            onset_date=date(2020, 1, 7),
        )
        assert event.window == "delayed"

        refused = admin_api.patch(detail(department), {"time_zone": "Europe/Paris"}, format="json")
        accepted = admin_api.patch(
            detail(department), {"time_zone": "Pacific/Honolulu"}, format="json"
        )

        assert refused.status_code == 400
        assert "onset_date" in refused.json()
        assert accepted.status_code == 200
        department.refresh_from_db()
        event.refresh_from_db()
        assert (department.time_zone, event.window) == ("Pacific/Honolulu", "delayed")

    def test_a_department_with_patients_cannot_be_deleted(self, admin_api, department):
        f.patient(department)

        response = admin_api.delete(detail(department))

        assert response.status_code == 400
        assert "patient" in response.json()["non_field_errors"][0]
        assert Department.objects.filter(pk=department.pk).exists()

    def test_an_empty_department_is_deleted(self, admin_api, department):
        assert admin_api.delete(detail(department)).status_code == 204
        assert not Department.objects.exists()
