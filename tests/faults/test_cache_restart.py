"""The cache (its own redis-server) stops, a write is made, the cache comes back with the data
it had persisted: the dashboards serve the rates of the database, never the ones cached
before the outage (on the earlier code, where the version lived in the cache, they did until
the entry expired)."""

from __future__ import annotations

import json
import re

import pytest
from django.core.cache import cache
from django.test import Client

from complications.stats.rates import rates as recomputed_rates
from registry.services import clinical_change
from tests import factories as f
from tests.conftest import PASSWORD, api_client_for

pytestmark = pytest.mark.redis

RATES = "/api/v1/stats/rates/"
VERSION = "/api/v1/stats/version/"


def _case(department) -> None:
    """A case as a write service stores it: the rows, then ``clinical_change`` (the summary
    and the dashboards' version, in the write's transaction) at commit."""
    procedure = f.procedure(f.patient(department))
    f.fracture(procedure)
    f.follow_up(procedure, hours_after_end=48)
    f.complication(procedure, window="early", grade=3)
    clinical_change(procedure_ids=[procedure.pk])


@pytest.fixture
def redis_cache(redis_server, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_server.url(2),
        }
    }
    cache.clear()
    return redis_server


@pytest.mark.django_db
def test_a_cache_restarted_with_its_old_data_never_serves_rates_older_than_the_database(
    redis_cache, head, department, django_capture_on_commit_callbacks
):
    api = api_client_for(head)
    with django_capture_on_commit_callbacks(execute=True):
        _case(department)
    before = api.get(RATES).json()
    version = api.get(VERSION).json()["version"]
    assert before == recomputed_rates(user=head)  # and now cached in Redis

    redis_cache.stop()
    with django_capture_on_commit_callbacks(execute=True):
        _case(department)  # committed while the cache is down

    redis_cache.start()  # with the entries it had persisted before the outage
    assert any(key.startswith(b":1:stats:rates:") for key in cache._cache.get_client().keys("*"))
    after = api.get(RATES).json()
    assert api.get(VERSION).json()["version"] > version
    assert after == recomputed_rates(user=head) != before
    assert after["windows"]["early"]["at_risk"] == 2

    # The dashboard page: its cards and the version its script polls from.
    client = Client()
    assert client.login(username=head.username, password=PASSWORD)
    html = client.get("/dashboard/").content.decode()
    at_risk = re.findall(r'<span data-field="at_risk">(\d+)</span>', html)
    assert at_risk and set(at_risk) <= {"2"}
    config = json.loads(
        html.split('id="dashboard-config" type="application/json">')[1].split("<")[0]
    )
    assert config["version"] == api.get(VERSION).json()["version"]


@pytest.mark.django_db
def test_while_the_cache_is_down_the_statistics_are_computed_from_the_database(
    redis_cache, head, department, django_capture_on_commit_callbacks
):
    api = api_client_for(head)
    redis_cache.stop()
    with django_capture_on_commit_callbacks(execute=True):
        _case(department)
    response = api.get(RATES)
    assert response.status_code == 200 and response.json() == recomputed_rates(user=head)
    assert api.get(VERSION).status_code == 200
    client = Client()
    assert client.login(username=head.username, password=PASSWORD)
    assert client.get("/dashboard/").status_code == 200
