import pytest
from django.urls import reverse

from tests.conftest import PASSWORD

PAGES = ["home", "case-list", "dashboard"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", PAGES)
def test_every_page_redirects_an_anonymous_visitor_to_the_login_page(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", PAGES)
def test_every_page_opens_for_a_logged_in_user(client, radiologist, name):
    assert client.login(username="radiologist", password=PASSWORD)
    assert client.get(reverse(name)).status_code == 200


def test_the_login_page_is_public(client, db):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b'name="password"' in response.content


@pytest.mark.parametrize("url", ["/health/", "/health/live/", "/health/ready/"])
def test_the_health_checks_are_public(client, db, url):
    assert client.get(url).json()["status"] == "ok"


def test_the_api_answers_401_not_a_redirect(client, db):
    assert client.get("/api/v1/schema/").status_code == 401
