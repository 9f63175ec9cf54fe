"""A filter's period given backwards is named in the words of its fields, on every list, on the
dashboard and in the API, in English and in French (one message: registry.forms.PERIOD_REVERSED)."""

from __future__ import annotations

import pytest

from tests.conftest import api_client_for

BACKWARDS = {"date_from": "2026-02-01", "date_to": "2026-01-01"}


@pytest.mark.parametrize("path", ["/cases/", "/patients/", "/dashboard/"])
@pytest.mark.parametrize(
    ("language", "words"),
    [("en", "The period ends (To) before it starts (From)"), ("fr", "se termine (Au) avant")],
)
def test_a_backwards_period_is_reported_beside_the_to_field(client, head, path, language, words):
    client.force_login(head)
    response = client.get(path, BACKWARDS, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["date_to"]
    assert words in errors["date_to"][0]
    assert "date_to is before" not in response.content.decode()


def test_the_api_says_it_in_the_same_words(head):
    response = api_client_for(head).get("/api/v1/stats/rates/", BACKWARDS)
    assert response.status_code == 400
    assert "The period ends (To) before it starts (From)" in str(response.json())
