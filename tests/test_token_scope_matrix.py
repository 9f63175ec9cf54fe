"""API token scopes x endpoints, and tokens that no longer work (expired, revoked).

A data manager of department A (whose role may read, write and export) holds one token per
scope set; each endpoint answers as for a full token when the scope covers it, and 403 when
it does not. The role still bounds a token: a radiologist cannot get an export scope.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework.test import APIClient

from registry.accounts import services
from registry.accounts.models import ApiToken
from tests import factories

PARIS = ZoneInfo("Europe/Paris")
SCOPE_SETS = {
    "read": ["read"],
    "read+write": ["read", "write"],
    "read+export": ["read", "export"],
    "all": ["read", "write", "export"],
}


@pytest.fixture
def records(department):
    patient = factories.patient(department)
    procedure = factories.procedure(patient, started_at=datetime(2020, 3, 4, 9, tzinfo=PARIS))
    return {"patient": patient.pk, "procedure": procedure.pk, "department": department.pk}


# (method, path, body, needed scope, status with the scope)
ENDPOINTS = [
    ("get", "/api/v1/patients/", None, "read", 200),
    ("get", "/api/v1/patients/{patient}/", None, "read", 200),
    ("get", "/api/v1/stats/rates/", None, "read", 200),
    ("post", "/api/v1/grading/preview/", {}, "read", 400),
    ("post", "/api/v1/patients/", {}, "write", 400),
    ("patch", "/api/v1/procedures/{procedure}/", {"operator": "JG"}, "write", 200),
    ("delete", "/api/v1/patients/{patient}/", None, "write", 400),
    ("get", "/api/v1/export/cases.csv", None, "export", 200),
    ("get", "/api/v1/exports/", None, "export", 200),
    ("post", "/api/v1/exports/", {}, "export", 400),
    ("get", "/api/v1/fhir/$export", None, "export", 202),
    ("get", "/api/v1/freezes/", None, "export", 200),
    ("post", "/api/v1/queries/", {}, "write", 400),
]


def client_with(user, scopes, **options) -> APIClient:  # type: ignore[no-untyped-def]
    options.setdefault("expires_at", timezone.now() + timedelta(days=1))
    _token, key = services.token_create(user=user, name="matrix", scopes=scopes, **options)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e[0]} {e[1]}")
@pytest.mark.parametrize("scope_set", list(SCOPE_SETS))
def test_a_scope_opens_its_endpoints_and_only_those(records, data_manager, scope_set, endpoint):
    method, path, body, needed, allowed = endpoint
    client = client_with(data_manager, SCOPE_SETS[scope_set])
    response = getattr(client, method)(path.format(**records), body, format="json")
    expected = allowed if needed in SCOPE_SETS[scope_set] else 403
    assert response.status_code == expected, response.content


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e[0]} {e[1]}")
def test_an_expired_token_is_a_401_everywhere(records, data_manager, endpoint):
    method, path, body, _needed, _allowed = endpoint
    client = client_with(data_manager, SCOPE_SETS["all"])
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = getattr(client, method)(path.format(**records), body, format="json")
    assert response.status_code == 401


@pytest.mark.django_db
def test_a_revoked_token_is_a_401(records, data_manager):
    client = client_with(data_manager, SCOPE_SETS["all"])
    assert client.get("/api/v1/patients/").status_code == 200
    services.token_revoke(token=ApiToken.objects.get(), actor=data_manager)
    assert client.get("/api/v1/patients/").status_code == 401


@pytest.mark.django_db
def test_the_role_bounds_the_scope(radiologist):
    with pytest.raises(ValidationError) as refused:
        services.token_create(user=radiologist, name="x", scopes=["export"], expires_at=None)
    assert "scopes" in refused.value.message_dict
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_a_token_of_another_department_sees_nothing_of_a(records, outsider):
    client = client_with(outsider, SCOPE_SETS["read+write"])
    assert client.get(f"/api/v1/patients/{records['patient']}/").status_code == 404
