"""POST /api/v1/auth/token/: a token for good credentials, 400 for bad ones."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from registry.accounts.models import ApiToken
from registry.accounts.tokens import key_hash
from tests.conftest import PASSWORD

URL = "/api/v1/auth/token/"


@pytest.mark.django_db
class TestToken:
    def test_good_credentials_return_a_token_that_authenticates(self, radiologist):
        response = APIClient().post(
            URL, {"username": "radiologist", "password": PASSWORD}, format="json"
        )

        assert response.status_code == 200
        token = response.json()["token"]
        stored = ApiToken.objects.get(user=radiologist)
        assert stored.key_hash == key_hash(token) and token not in stored.key_hash
        assert stored.scopes == "read write" and stored.expires_at is not None
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        assert client.get("/api/v1/patients/").status_code == 200

    @pytest.mark.parametrize(
        "body",
        [
            {"username": "radiologist", "password": "wrong"},
            {"username": "nobody", "password": PASSWORD},
            {"username": "radiologist"},
            {},
        ],
    )
    def test_bad_credentials_are_a_400(self, radiologist, body):
        response = APIClient().post(URL, body, format="json")

        assert response.status_code == 400
        assert "token" not in response.json()

    def test_an_unknown_token_is_a_401(self, db):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Token not-a-token")

        assert client.get("/api/v1/patients/").status_code == 401
