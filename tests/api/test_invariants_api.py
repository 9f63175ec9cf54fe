"""The invariants of the services as the API answers them: future dates, re-derivation,
outcome and grade, identifiers withheld as in exports, export downloads re-checked."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from complications.models import ComplicationEvent
from complications.services import complication_record
from tests import factories as f
from tests.conftest import api_client_for
from tests.factories import PARIS

WOUND_INFECTION, ANEMIA = "10048038", "10002272"


@pytest.fixture
def recent(department):
    """A procedure that ended an hour ago."""
    return f.procedure(
        f.patient(department), started_at=timezone.now() - timedelta(hours=3), minutes=120
    )


def _ahead(**delta: float) -> str:
    return (timezone.now() + timedelta(**delta)).isoformat()


# --- no clinical date in the future ---------------------------------------------------


@pytest.mark.django_db
class TestFutureDates:
    def test_a_procedure_end_in_the_future_is_a_400_on_ended_at(self, api, patient):
        response = api.post(
            "/api/v1/procedures/",
            {
                "patient": patient.pk,
                "started_at": _ahead(hours=-1),
                "ended_at": _ahead(hours=1),
                "guidance": "ct",
                "anesthesia": "general",
            },
            format="json",
        )
        assert response.status_code == 400
        assert set(response.json()) == {"ended_at"}

    def test_a_follow_up_contact_in_the_future_is_a_400_on_contact_at(self, api, recent):
        response = api.post(
            "/api/v1/follow-ups/",
            {"procedure": recent.pk, "contact_at": _ahead(days=1), "kind": "phone"},
            format="json",
        )
        assert response.status_code == 400
        assert "in the future" in response.json()["contact_at"][0]

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("onset_at", lambda: _ahead(hours=2)),
            ("onset_date", lambda: (timezone.localdate() + timedelta(days=2)).isoformat()),
        ],
    )
    def test_a_complication_onset_in_the_future_is_a_400_on_its_field(
        self, api, recent, field, value
    ):
        response = api.post(
            "/api/v1/complications/",
            {
                "procedure": recent.pk,
                "term": WOUND_INFECTION,
                "facts": {"intervention": "oral"},
                field: value(),
            },
            format="json",
        )
        assert response.status_code == 400
        assert "in the future" in response.json()[field][0]
        assert not ComplicationEvent.objects.exists()


@pytest.fixture
def patient(department):
    return f.patient(department)


# --- re-derivation, outcome and grade ----------------------------------------------------


@pytest.mark.django_db
def test_a_sex_change_that_strands_an_anaemia_grade_is_a_400_naming_it(api, department):
    procedure = f.procedure(f.patient(department, sex="male"))
    event = complication_record(
        procedure=procedure,
        term=ANEMIA,
        facts={"hemoglobin_g_dl": 13.0},
        onset_at=procedure.ended_at + timedelta(days=1),
    )

    response = api.patch(
        f"/api/v1/patients/{procedure.patient_id}/", {"sex": "female"}, format="json"
    )

    assert response.status_code == 400
    assert f"complication #{event.pk} (Anemia, 2020-01-07)" in response.json()["sex"][0]
    procedure.patient.refresh_from_db()
    assert procedure.patient.sex == "male"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("facts", "outcome", "named"),
    [
        ({"intervention": "oral"}, "death", "Death"),
        ({"death": True}, "ongoing", "Ongoing"),
        ({"death": True}, "", "not given"),
    ],
)
def test_an_outcome_that_disagrees_with_grade_5_is_a_400_on_outcome(
    api, department, facts, outcome, named
):
    procedure = f.procedure(f.patient(department))
    response = api.post(
        "/api/v1/complications/",
        {
            "procedure": procedure.pk,
            "term": WOUND_INFECTION,
            "facts": facts,
            "onset_at": (procedure.ended_at + timedelta(days=2)).isoformat(),
            "outcome": outcome,
        },
        format="json",
    )
    assert response.status_code == 400
    assert named in response.json()["outcome"][0]


# --- identifiers as in exports ---------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("persona", "sees"),
    [
        ("radiologist", True),
        ("data_manager", True),
        ("admin_user", True),
        ("head", False),
        ("api_user", False),
    ],
)
def test_identifiers_are_withheld_from_readers_who_may_not_change_patients(
    request, department, persona, sees
):
    patient = f.patient(department, registry_id="PIG-042")
    client = api_client_for(request.getfixturevalue(persona))

    listed = client.get("/api/v1/patients/").json()["results"][0]
    detail = client.get(f"/api/v1/patients/{patient.pk}/").json()

    for body in (listed, detail):
        assert body["birth_year"] == 1950
        assert (body["registry_id"], body["birth_date"]) == (
            ("PIG-042", "1950-01-01") if sees else (None, None)
        )


@pytest.mark.django_db
def test_the_identifiers_permission_of_the_exports_shows_them_to_a_head(head, department):
    from django.contrib.auth.models import Permission, User

    f.patient(department, registry_id="PIG-043")
    assert api_client_for(head).get("/api/v1/patients/").json()["results"][0]["registry_id"] is None

    head.user_permissions.add(Permission.objects.get(codename="export_identifiers"))
    head = User.objects.get(pk=head.pk)  # permissions are cached on the instance
    body = api_client_for(head).get("/api/v1/patients/").json()["results"][0]
    assert body["registry_id"] == "PIG-043"


def test_the_schema_says_identifiers_may_be_null_in_responses_only():
    schema = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    response, request = schema["Patient"]["properties"], schema["PatientRequest"]["properties"]

    for field in ("registry_id", "birth_date"):
        assert response[field].get("nullable") is True
        assert not request[field].get("nullable")
    assert response["birth_year"]["type"] == "integer" and "birth_year" not in request


# --- export downloads re-check membership -------------------------------------------------


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.mark.django_db
@pytest.mark.parametrize("door", ["api", "page"])
def test_an_export_is_no_longer_downloadable_once_its_owner_left_a_department_it_covered(
    client, head, department, media, django_capture_on_commit_callbacks, door
):
    procedure = f.procedure(f.patient(department), started_at=datetime(2020, 1, 6, 9, tzinfo=PARIS))
    f.fracture(procedure)
    api = api_client_for(head)
    with django_capture_on_commit_callbacks(execute=True):
        job = api.post("/api/v1/exports/", {"format": "csv"}, format="json").json()
    download = f"/api/v1/exports/{job['id']}/download/"
    if door == "page":
        client.force_login(head)
        api = client
    assert api.get(download).status_code == 200

    department.members.remove(head)

    assert api.get(download).status_code == 404
    assert api.get(f"/api/v1/exports/{job['id']}/").json()["download_url"] is None


def test_a_reader_without_identifiers_cannot_search_or_sort_by_them(head, radiologist, department):
    older = f.patient(department, registry_id="ZZ-OLD", birth_date=date(1930, 1, 1))
    younger = f.patient(department, registry_id="AA-YOUNG", birth_date=date(1990, 1, 1))
    head_api, radiologist_api = api_client_for(head), api_client_for(radiologist)

    searched = head_api.get("/api/v1/patients/", {"registry_id": "ZZ-OLD"})
    assert searched.status_code == 400 and "registry_id" in searched.json()
    found = radiologist_api.get("/api/v1/patients/", {"registry_id": "ZZ-OLD"}).json()
    assert [p["id"] for p in found["results"]] == [older.pk]

    for ordering in ("birth_date", "-birth_date", "registry_id", "-registry_id"):
        as_head = head_api.get("/api/v1/patients/", {"ordering": ordering}).json()["results"]
        assert [p["id"] for p in as_head] == [older.pk, younger.pk], ordering
    by_birth = radiologist_api.get("/api/v1/patients/", {"ordering": "-birth_date"}).json()
    assert [p["id"] for p in by_birth["results"]] == [younger.pk, older.pk]
