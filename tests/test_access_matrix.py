"""Every endpoint and page x every role x own/other department, with the expected status.

Roles: anonymous, radiologist, department head, data manager, API client and
administrator of department A, and a radiologist of department B (the
outsider), who must neither see nor infer A's records: for him they are 404.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from rest_framework.test import APIClient

from complications.services import complication_record
from registry.models import Procedure
from registry.verification import procedure_verify
from tests import factories
from tests.conftest import PASSWORD, api_client_for

PARIS = ZoneInfo("Europe/Paris")
ROLES = ["anonymous", "radiologist", "head", "data_manager", "api_user", "outsider", "admin_user"]
WRITERS = {"radiologist", "data_manager", "admin_user"}
READERS_OF_A = {"radiologist", "head", "data_manager", "api_user", "admin_user"}


@pytest.fixture
def records(department, other_department):
    patient = factories.patient(department)
    procedure = factories.procedure(patient, started_at=datetime(2020, 3, 4, 9, tzinfo=PARIS))
    fracture = factories.fracture(procedure)
    follow_up = factories.follow_up(procedure, hours_after_end=20)
    complication = complication_record(
        procedure=procedure,
        term="10048038",
        facts={"intervention": "oral"},
        onset_at=procedure.ended_at + timedelta(hours=2),
    )
    return {
        "departments": department.pk,
        "patients": patient.pk,
        "procedures": procedure.pk,
        "fractures": fracture.pk,
        "follow-ups": follow_up.pk,
        "complications": complication.pk,
    }


@pytest.fixture
def as_role(request, radiologist, head, data_manager, api_user, outsider, admin_user):
    users = {
        "radiologist": radiologist,
        "head": head,
        "data_manager": data_manager,
        "api_user": api_user,
        "outsider": outsider,
        "admin_user": admin_user,
    }

    def client_for(role: str) -> APIClient:
        return APIClient() if role == "anonymous" else api_client_for(users[role])

    return client_for


RESOURCES = ["departments", "patients", "procedures", "fractures", "follow-ups", "complications"]


def _expected_read(role: str) -> int:
    if role == "anonymous":
        return 401
    return 200 if role in READERS_OF_A else 404


def _expected_write(role: str, resource: str) -> int:
    if role == "anonymous":
        return 401
    if role == "outsider":
        return 404
    if resource == "departments":
        return 200 if role == "admin_user" else 403
    return 200 if role in WRITERS else 403


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("role", ROLES)
def test_reading_a_record_of_department_a(records, as_role, role, resource):
    response = as_role(role).get(f"/api/v1/{resource}/{records[resource]}/")
    assert response.status_code == _expected_read(role)


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("role", ROLES)
def test_listing_shows_department_a_only_to_its_members(records, as_role, role, resource):
    response = as_role(role).get(f"/api/v1/{resource}/")
    if role == "anonymous":
        assert response.status_code == 401
        return
    assert response.status_code == 200
    ids = {item["id"] for item in response.json()["results"]}
    assert (records[resource] in ids) == (role in READERS_OF_A)


PATCHES = {
    "departments": {"name": "Renamed"},
    "patients": {"sex": "male"},
    "procedures": {"operator": "JG"},
    "fractures": {"screws": 2},
    "follow-ups": {"kind": "phone"},
    "complications": {"description": "Reviewed"},
}


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("role", ROLES)
def test_changing_a_record_of_department_a(records, as_role, role, resource):
    response = as_role(role).patch(
        f"/api/v1/{resource}/{records[resource]}/", PATCHES[resource], format="json"
    )
    assert response.status_code == _expected_write(role, resource), response.content


@pytest.mark.parametrize("role", ROLES)
def test_creating_a_follow_up_in_department_a(records, as_role, role):
    ended = datetime(2020, 3, 4, 10, 30, tzinfo=PARIS)
    response = as_role(role).post(
        "/api/v1/follow-ups/",
        {
            "procedure": records["procedures"],
            "contact_at": (ended + timedelta(days=30)).isoformat(),
            "kind": "clinical",
        },
        format="json",
    )
    expected = {"anonymous": 401, "outsider": 400}.get(role, 201 if role in WRITERS else 403)
    assert response.status_code == expected, response.content


@pytest.mark.parametrize("role", ROLES)
def test_the_rates_of_department_a(records, as_role, role):
    response = as_role(role).get("/api/v1/stats/rates/", {"department": records["departments"]})
    assert response.status_code == _expected_read(role)
    if response.status_code == 200:
        assert response.json()["windows"]["early"]["events"] == 1


@pytest.mark.parametrize("role", ROLES)
def test_the_unfiltered_rates_never_count_another_department(records, as_role, role):
    response = as_role(role).get("/api/v1/stats/rates/")
    if role == "anonymous":
        assert response.status_code == 401
        return
    at_risk = response.json()["windows"]["per_procedural"]["at_risk"]
    assert at_risk == (1 if role in READERS_OF_A else 0)


PAGES = ["/", "/cases/", "/dashboard/"]


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("role", ROLES)
def test_pages_need_a_login(
    client, records, radiologist, head, data_manager, api_user, outsider, admin_user, role, page
):
    if role != "anonymous":
        assert client.login(username={"admin_user": "admin"}.get(role, role), password=PASSWORD)
    response = client.get(page)
    assert response.status_code == (302 if role == "anonymous" else 200)


@pytest.mark.parametrize("role", ROLES)
def test_the_case_page_of_department_a(
    client, records, radiologist, head, data_manager, api_user, outsider, admin_user, role
):
    if role != "anonymous":
        assert client.login(username={"admin_user": "admin"}.get(role, role), password=PASSWORD)
    response = client.get(f"/cases/{records['procedures']}/")
    assert response.status_code == {"anonymous": 302, "outsider": 404}.get(role, 200)


# --- the admin: administrators write, members view their department, outsiders see nothing ---

ADMIN_PATHS = {
    "departments": "registry/department",
    "patients": "registry/patient",
    "procedures": "registry/procedure",
    "fractures": "registry/fracture",
    "follow-ups": "registry/followup",
    "complications": "complications/complicationevent",
}
MEMBERS_OF_A = READERS_OF_A - {"admin_user"}


@pytest.fixture
def logged_in(client, radiologist, head, data_manager, api_user, outsider, admin_user):
    """A browser signed in as ``role``; every persona is staff, as data managers are in the
    demo, so that the admin's own rules (not the staff flag) are what is tested."""
    users = {
        "radiologist": radiologist,
        "head": head,
        "data_manager": data_manager,
        "api_user": api_user,
        "outsider": outsider,
        "admin_user": admin_user,
    }

    def login(role: str):
        if role != "anonymous":
            users[role].is_staff = True
            users[role].save(update_fields=["is_staff"])
            assert client.login(username=users[role].username, password=PASSWORD)
        return client

    return login


def _admin_expected(role: str, resource: str, action: str) -> int:
    if role == "anonymous":
        return 302
    if role == "admin_user":
        return 200
    if resource == "departments" or action != "view":
        return 403
    # Viewing: members see the record read-only; for an outsider it does not exist.
    return 302 if role == "outsider" else 200


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("role", ROLES)
def test_the_admin_list_of_department_a(records, logged_in, role, resource):
    response = logged_in(role).get(f"/admin/{ADMIN_PATHS[resource]}/")
    if role == "anonymous":
        assert response.status_code == 302
        return
    if resource == "departments" and role != "admin_user":
        assert response.status_code == 403
        return
    assert response.status_code == 200
    link = f"/admin/{ADMIN_PATHS[resource]}/{records[resource]}/change/"
    assert (link in response.content.decode()) == (role in READERS_OF_A)


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("role", ROLES)
def test_the_admin_pages_of_a_record_of_department_a(records, logged_in, role, resource):
    client = logged_in(role)
    base = f"/admin/{ADMIN_PATHS[resource]}"
    record = records[resource]
    assert client.get(f"{base}/{record}/change/").status_code == _admin_expected(
        role, resource, "view"
    )
    assert client.get(f"{base}/add/").status_code == _admin_expected(role, resource, "add")
    assert client.get(f"{base}/{record}/delete/").status_code == _admin_expected(
        role, resource, "delete"
    )


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("role", sorted(MEMBERS_OF_A | {"outsider"}))
def test_only_administrators_write_in_the_admin(records, logged_in, role, resource):
    client = logged_in(role)
    base = f"/admin/{ADMIN_PATHS[resource]}"
    record = records[resource]
    assert client.post(f"{base}/add/", {}).status_code == 403
    assert client.post(f"{base}/{record}/change/", {"reason": "x"}).status_code == 403
    assert client.post(f"{base}/{record}/delete/", {"post": "yes"}).status_code == 403


# --- the correction pages --------------------------------------------------------------------

CORRECTIONS = [
    "/patients/{patients}/edit/",
    "/patients/{patients}/delete/",
    "/cases/{procedures}/edit/",
    "/cases/{procedures}/delete/",
    "/cases/{procedures}/fractures/{fractures}/edit/",
    "/cases/{procedures}/fractures/{fractures}/delete/",
    "/cases/{procedures}/follow-ups/{follow-ups}/edit/",
    "/cases/{procedures}/follow-ups/{follow-ups}/delete/",
]


@pytest.mark.parametrize("page", CORRECTIONS)
@pytest.mark.parametrize("role", ROLES)
def test_the_correction_pages_of_department_a(records, logged_in, role, page):
    url = page
    for name, pk in records.items():
        url = url.replace("{" + name + "}", str(pk))
    response = logged_in(role).get(url)
    expected = {"anonymous": 302, "outsider": 404, "head": 403, "api_user": 403}.get(role, 200)
    assert response.status_code == expected


# --- the registry coordinator: every department's aggregates, no patient-level record --------


@pytest.fixture
def coordinator(db):
    from django.contrib.auth.models import Group, User

    from registry import roles

    user = User.objects.create_user(username="coordinator", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=roles.REGISTRY_COORDINATOR))
    return user


@pytest.mark.parametrize("resource", RESOURCES[1:])
def test_the_coordinator_reads_no_clinical_record(records, coordinator, resource):
    client = api_client_for(coordinator)
    assert client.get(f"/api/v1/{resource}/").status_code == 403
    # a record: not found (scoping) or forbidden (no permission), never shown or changed
    assert client.get(f"/api/v1/{resource}/{records[resource]}/").status_code in (403, 404)
    patch = client.patch(f"/api/v1/{resource}/{records[resource]}/", PATCHES[resource])
    assert patch.status_code in (403, 404)


@pytest.mark.parametrize(
    "page", ["/cases/{procedures}/", *CORRECTIONS, "/admin/registry/patient/{patients}/change/"]
)
def test_the_coordinator_opens_no_case_page(client, records, coordinator, page):
    url = page
    for name, pk in records.items():
        url = url.replace("{" + name + "}", str(pk))
    assert client.login(username="coordinator", password=PASSWORD)
    assert client.get(url).status_code in (302, 403, 404)


@pytest.mark.parametrize("endpoint", ["/api/v1/stats/funnel/", "/api/v1/stats/risk-adjusted/"])
@pytest.mark.parametrize("role", [*ROLES, "coordinator"])
def test_who_sees_department_a_by_name_in_the_comparisons(
    records, as_role, coordinator, role, endpoint
):
    client = api_client_for(coordinator) if role == "coordinator" else as_role(role)
    response = client.get(endpoint, {"window": "early"} if endpoint.endswith("funnel/") else {})
    if role == "anonymous":
        assert response.status_code == 401
        return
    assert response.status_code == 200
    named = {row["department"] for row in response.json()["departments"]}
    # the funnel lists department A (one fracture at risk in the early window); the O/E model has
    # too few events to give ratios, so it lists no department at all
    if endpoint.endswith("funnel/"):
        shown = role in READERS_OF_A or role == "coordinator"
        assert (records["departments"] in named) == shown
        assert named <= {records["departments"], None}


@pytest.mark.parametrize("role", [*ROLES, "coordinator"])
def test_the_cumulative_incidence_of_department_a(records, as_role, coordinator, role):
    client = api_client_for(coordinator) if role == "coordinator" else as_role(role)
    response = client.get(
        "/api/v1/stats/cumulative-incidence/", {"department": records["departments"]}
    )
    if role == "coordinator":
        assert response.status_code == 200
        assert response.json()["units"] == 1
    else:
        assert response.status_code == _expected_read(role)


# --- locking: every role x locked/unlocked x every write ----------------------

LOCKABLE = ["patients", "procedures", "fractures", "follow-ups", "complications"]
# Deleting an unlocked record of the fixture: refused while dependants protect it.
UNLOCKED_DELETE = {
    "patients": 400,  # it has a procedure
    "procedures": 400,  # it has a complication
    "fractures": 400,  # a complication concerns it
    "follow-ups": 204,
    "complications": 204,
}


def _lock(records, data_manager) -> None:
    """Verify the fixture's case (as a data manager), which locks it."""
    procedure_verify(procedure=Procedure.objects.get(pk=records["procedures"]), user=data_manager)


def _expected_locked_write(role: str, *, locked: bool, unlocked: int) -> int:
    """Permissions first (401, 404, 403), then the lock (409)."""
    if role == "anonymous":
        return 401
    if role == "outsider":
        return 404
    if role not in WRITERS:
        return 403
    return 409 if locked else unlocked


@pytest.mark.parametrize("locked", [False, True], ids=["unlocked", "locked"])
@pytest.mark.parametrize("resource", LOCKABLE)
@pytest.mark.parametrize("role", ROLES)
def test_changing_a_record_of_a_verified_case_is_refused(
    records, data_manager, as_role, role, resource, locked
):
    if locked:
        _lock(records, data_manager)
    response = as_role(role).patch(
        f"/api/v1/{resource}/{records[resource]}/", PATCHES[resource], format="json"
    )
    assert response.status_code == _expected_locked_write(role, locked=locked, unlocked=200), (
        response.content
    )
    if response.status_code == 409:
        assert "locked" in response.json()["non_field_errors"][0]


@pytest.mark.parametrize("locked", [False, True], ids=["unlocked", "locked"])
@pytest.mark.parametrize("resource", LOCKABLE)
@pytest.mark.parametrize("role", ROLES)
def test_deleting_a_record_of_a_verified_case_is_refused(
    records, data_manager, as_role, role, resource, locked
):
    if locked:
        _lock(records, data_manager)
    response = as_role(role).delete(f"/api/v1/{resource}/{records[resource]}/")
    expected = _expected_locked_write(role, locked=locked, unlocked=UNLOCKED_DELETE[resource])
    assert response.status_code == expected, response.content


def _new_record_bodies(records) -> dict[str, dict]:
    ended = datetime(2020, 3, 4, 10, 30, tzinfo=PARIS)
    return {
        "follow-ups": {
            "procedure": records["procedures"],
            "contact_at": (ended + timedelta(days=30)).isoformat(),
            "kind": "clinical",
        },
        "complications": {
            "procedure": records["procedures"],
            "term": "10048038",
            "facts": {"intervention": "oral"},
            "onset_at": (ended + timedelta(days=3)).isoformat(),
        },
        "fractures": {
            "procedure": records["procedures"],
            "type": "insufficiency",
            "site": "sacrum",
            "side": "left",
        },
    }


@pytest.mark.parametrize("locked", [False, True], ids=["unlocked", "locked"])
@pytest.mark.parametrize("resource", ["follow-ups", "complications", "fractures"])
@pytest.mark.parametrize("role", ROLES)
def test_adding_to_a_verified_case(records, data_manager, as_role, role, resource, locked):
    """Follow-ups and complications may still be added (unverified); a fracture may not."""
    if locked:
        _lock(records, data_manager)
    response = as_role(role).post(
        f"/api/v1/{resource}/", _new_record_bodies(records)[resource], format="json"
    )
    if role == "anonymous":
        expected = 401
    elif role == "outsider":
        expected = 400  # the procedure is not one it may name
    elif role not in WRITERS:
        expected = 403
    else:
        expected = 409 if locked and resource == "fractures" else 201
    assert response.status_code == expected, response.content


VERIFIERS = {"data_manager", "admin_user"}


@pytest.mark.parametrize("action", ["verify", "unlock"])
@pytest.mark.parametrize("role", ROLES)
def test_verifying_and_unlocking_a_case(records, data_manager, as_role, role, action):
    if action == "unlock":
        _lock(records, data_manager)
    response = as_role(role).post(
        f"/api/v1/procedures/{records['procedures']}/{action}/",
        {"reason": "Wrong side entered"},
        format="json",
    )
    expected = {"anonymous": 401, "outsider": 404}.get(role, 200 if role in VERIFIERS else 403)
    assert response.status_code == expected, response.content
    if expected == 200:
        assert (response.json()["verified_at"] is not None) == (action == "verify")
