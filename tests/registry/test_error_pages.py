"""Error pages in the site's layout, with the menu for a logged-in user, whatever DEBUG says;
JSON under /api/ (and the API root at /api/v1/ listing the endpoints)."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import resolve
from django.views.defaults import server_error

from tests import factories


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("path", ["/no-such-page/", "/cases/999999/", "/cases/{other}/"])
def test_a_missing_page_is_a_friendly_404_with_the_menu(
    client, radiologist, other_department, debug, path
):
    other = factories.procedure(factories.patient(other_department))
    client.force_login(radiologist)
    with override_settings(DEBUG=debug):
        response = client.get(path.format(other=other.pk), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    page = response.content.decode()
    assert "Page not found" in page and "Log out" in page
    assert "Django" not in page and "URLconf" not in page


@pytest.mark.parametrize("debug", [True, False])
def test_the_404_is_french_for_a_french_user(client, radiologist, debug):
    client.force_login(radiologist)
    with override_settings(DEBUG=debug):
        response = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="fr")
    assert "Page introuvable" in response.content.decode()


@pytest.mark.parametrize("debug", [True, False])
def test_the_api_keeps_answering_json(client, radiologist, debug):
    client.force_login(radiologist)
    with override_settings(DEBUG=debug):
        response = client.get("/api/v1/no-such-endpoint/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")


def test_a_refused_page_is_a_403_with_the_menu(client, head):
    client.force_login(head)
    response = client.get("/cases/new/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 403
    page = response.content.decode()
    assert "Not allowed" in page and "Log out" in page and "ask an administrator" in page


def test_a_server_error_page_is_in_the_layout(rf, db):
    response = server_error(rf.get("/cases/"))
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong" in page and 'class="navbar' in page


@pytest.mark.parametrize("debug", [True, False])
def test_the_api_root_lists_every_endpoint(client, debug):
    with override_settings(DEBUG=debug):
        response = client.get("/api/v1/")
    assert response.status_code == 200
    body = response.json()
    endpoints = body["endpoints"]
    for name in ("patient-list", "procedure-list", "complication-list", "stats-rates", "schema"):
        assert name in endpoints
    for url in endpoints.values():
        path = url.split("://", 1)[1].split("/", 1)[1]
        assert resolve("/" + path).url_name in endpoints
