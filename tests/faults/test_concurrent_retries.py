"""Duplicates of one write sent at the same time (a client retrying before the first answer
came back): the unique constraint on (user, key) makes each wait for the first transaction,
then answer with its result. One record, the same answer for all."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from registry.models import Patient
from tests.conftest import token_key_for
from tests.faults.http import call

pytestmark = pytest.mark.postgres


def test_concurrent_duplicates_with_one_key_write_once_and_answer_alike(web_server, radiologist):
    key = token_key_for(radiologist)
    headers = {"Authorization": f"Token {key}", "Idempotency-Key": uuid.uuid4().hex}
    body = {"registry_id": "TWIN-1", "sex": "male", "birth_date": "1944-05-06"}

    def send(_: int):
        return call("POST", web_server.url + "/api/v1/patients/", body=body, headers=headers)

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(send, range(6)))

    assert [a.status for a in answers] == [201] * 6, [(a.status, a.body[:200]) for a in answers]
    assert len({a.body for a in answers}) == 1
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 5
    assert Patient.objects.filter(registry_id="TWIN-1").count() == 1
