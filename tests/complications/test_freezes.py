"""Data freezes (complications.freezes): the stored rates, cohort and CSV tables stay
as frozen after later edits; the citable line; the head's electronic signature."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from django.core.cache import cache

from complications.freezes import citation, freeze_dir, sha256_of
from complications.models import DataFreeze
from registry import services
from tests import factories as f
from tests.conftest import PASSWORD, api_client_for
from tests.factories import PARIS

pytestmark = pytest.mark.django_db
FREEZES = "/api/v1/freezes/"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    cache.clear()
    yield tmp_path
    cache.clear()


@pytest.fixture
def cohort(department):
    procedures = []
    for i in range(3):
        procedure = f.procedure(
            f.patient(department), started_at=datetime(2020, 3, 2 + i, 9, tzinfo=PARIS)
        )
        f.fracture(procedure)
        f.follow_up(procedure, hours_after_end=48)
        procedures.append(procedure)
    f.complication(procedures[0], window="early", grade=3)
    return procedures


def test_a_freeze_keeps_its_numbers_and_files_after_later_edits(cohort, department, head):
    api = api_client_for(head)
    response = api.post(
        FREEZES, {"name": "Paper 2021", "filters": {"department": department.pk}}, format="json"
    )
    assert response.status_code == 201, response.content
    frozen = response.json()
    assert set(frozen) == {"id", "name", "created_at", "filters", "rates", "cohort", "files"}
    live_rates = api.get("/api/v1/stats/rates/", {"department": department.pk}).json()
    assert frozen["rates"] == live_rates
    assert (
        frozen["cohort"] == api.get("/api/v1/stats/cohort/", {"department": department.pk}).json()
    )
    assert {item["name"] for item in frozen["files"]} == {"cases.csv", "complications.csv"}
    downloaded = api.get(frozen["files"][0]["url"])
    assert downloaded.status_code == 200

    # Later edits: a new complication, a new case, a changed fracture.
    f.complication(cohort[1], window="early", grade=2)
    later = f.procedure(f.patient(department), started_at=datetime(2020, 3, 9, 9, tzinfo=PARIS))
    f.fracture(later)
    services.fracture_update(fracture=cohort[2].fractures.get(), screws=3)
    cache.clear()
    assert api.get("/api/v1/stats/rates/", {"department": department.pk}).json() != live_rates

    again = api.get(f"{FREEZES}{frozen['id']}/").json()
    assert again["rates"] == frozen["rates"] and again["cohort"] == frozen["cohort"]
    freeze = DataFreeze.objects.get()
    for item in again["files"]:
        assert sha256_of(freeze_dir(freeze) / item["name"]) == item["sha256"]
    assert again["files"] == frozen["files"]


def test_the_citable_line_names_the_freeze_its_date_hash_and_counts(cohort, department, head):
    api_client_for(head).post(FREEZES, {"name": "Paper 2021", "filters": {}}, format="json")
    line = citation(DataFreeze.objects.get())
    assert line.startswith("Paper 2021, PIGSF registry data freeze of ")
    assert "3 patients, 3 fractures" in line


@pytest.mark.parametrize(
    ("role", "expected"), [("radiologist", 403), ("data_manager", 403), ("head", 201)]
)
def test_only_department_heads_freeze(cohort, request, role, expected):
    response = api_client_for(request.getfixturevalue(role)).post(
        FREEZES, {"name": "x", "filters": {}}, format="json"
    )
    assert response.status_code == expected


def test_a_freeze_of_another_department_is_not_found(
    cohort, department, other_department, head, outsider
):
    from registry import roles
    from tests.conftest import _user

    created = api_client_for(head).post(FREEZES, {"name": "x", "filters": {}}, format="json").json()
    other_head = _user("other_head", roles.DEPARTMENT_HEAD, other_department)
    assert api_client_for(other_head).get(f"{FREEZES}{created['id']}/").status_code == 404
    # a radiologist's token has no export scope: freezes (files of the tables) are exports
    assert api_client_for(outsider).get(f"{FREEZES}{created['id']}/").status_code == 403
    response = api_client_for(head).post(
        FREEZES, {"name": "x", "filters": {"department": other_department.pk}}, format="json"
    )
    assert response.status_code == 404


def test_signing_a_freeze_needs_the_password_and_records_its_meaning(cohort, head):
    api = api_client_for(head)
    created = api.post(FREEZES, {"name": "x", "filters": {}}, format="json").json()
    refused = api.post(f"{FREEZES}{created['id']}/sign/", {"password": "wrong"}, format="json")
    assert refused.status_code == 400 and "password" in refused.json()
    assert (
        api.post(
            f"{FREEZES}{created['id']}/sign/", {"password": PASSWORD}, format="json"
        ).status_code
        == 200
    )
    freeze = DataFreeze.objects.get()
    assert freeze.signed_by == head and freeze.signed_at is not None
    assert freeze.signature_meaning == "I approve this dataset for publication"
    assert freeze.history.first().history_change_reason == "I approve this dataset for publication"


def test_the_frozen_files_are_under_media_root(cohort, head, media):
    api_client_for(head).post(FREEZES, {"name": "x", "filters": {}}, format="json")
    freeze = DataFreeze.objects.get()
    assert Path(freeze_dir(freeze)).is_relative_to(media)
    assert (freeze_dir(freeze) / "cases.csv").read_text().count("\n") == 4  # header + 3 fractures


def test_the_freezes_page_freezes_prints_the_citation_and_signs(client, cohort, department, head):
    client.force_login(head)
    response = client.post("/freezes/new/", {"name": "Paper 2021", "department": department.pk})
    assert response.status_code == 302
    freeze = DataFreeze.objects.get()
    assert freeze.filters == {"department": department.pk}
    page = client.get("/freezes/").content.decode()
    assert citation(freeze) in page and "cases.csv" in page
    client.post(f"/freezes/{freeze.pk}/sign/", {"password": PASSWORD})
    page = client.get("/freezes/").content.decode()
    assert f'id="signature-{freeze.pk}"' in page
    assert "I approve this dataset for publication" in page
