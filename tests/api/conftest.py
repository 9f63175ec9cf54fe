"""API clients for each persona, and small helpers shared by the API tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.conftest import api_client_for

# A list page costs: the token and its user, the token's last use (registry.accounts.tokens),
# the user's permissions (two), the count, the page, and one prefetch of a many-to-many.
# Anything above is a query per record.
MAX_LIST_QUERIES = 7


@pytest.fixture
def head_api(head) -> APIClient:
    return api_client_for(head)


@pytest.fixture
def manager_api(data_manager) -> APIClient:
    return api_client_for(data_manager)


@pytest.fixture
def reader_api(api_user) -> APIClient:
    """The token-only API client role: reads, never writes."""
    return api_client_for(api_user)


@pytest.fixture
def outsider_api(outsider) -> APIClient:
    return api_client_for(outsider)


@pytest.fixture
def admin_api(admin_user) -> APIClient:
    return api_client_for(admin_user)


@pytest.fixture
def count_queries() -> Callable[[Callable[[], object]], int]:
    """How many queries a call runs (to compare lists of 5 and of 30 records)."""

    def run(call: Callable[[], object]) -> int:
        with CaptureQueriesContext(connection) as context:
            call()
        return len(context.captured_queries)

    return run
