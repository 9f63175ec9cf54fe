"""Slow and oversized uploads against the registry served as docker-compose.yml serves it.

Issue 22: three clients sending a body at one byte a second to the token endpoint (no token
needed) froze the compose setup's web server (gunicorn sync workers, published directly).
Behind the buffering nginx of deploy/nginx.conf they hold nginx connections only, and every
other client is served meanwhile.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.conftest import token_key_for
from tests.faults.http import call

pytestmark = [pytest.mark.postgres, pytest.mark.nginx]

SLOW_CLIENTS = 12  # more than the threads of the test's gunicorn (2 workers x 4), and 3 x 4


class SlowUpload:
    """A client that declares a 100-byte body and sends it one byte a second."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), 5)
        self.sock.sendall(
            b"POST /api/v1/auth/token/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        )
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._drip, daemon=True)
        self.thread.start()

    def _drip(self) -> None:
        while not self.stopped.wait(1):
            try:
                self.sock.sendall(b" ")
            except OSError:
                return

    def answered(self) -> bool:
        """Whether the server has answered (or closed) this upload yet."""
        self.sock.setblocking(False)
        try:
            return self.sock.recv(1, socket.MSG_PEEK) is not None
        except BlockingIOError:
            return False
        except OSError:
            return True
        finally:
            self.sock.setblocking(True)

    def close(self) -> None:
        self.stopped.set()
        self.sock.close()


def test_slow_uploads_do_not_freeze_the_other_clients(production_server):
    assert production_server.behind_proxy, "compose publishes gunicorn without a proxy"
    uploads = [SlowUpload(production_server.port) for _ in range(SLOW_CLIENTS)]
    try:
        time.sleep(2)  # every upload has started and sent a byte or two
        # Meanwhile an ordinary client is served (a frozen server would leave it waiting).
        answer = call("GET", production_server.url + "/health/live/", timeout=20)
        assert answer.status == 200, answer
        token = call(
            "POST",
            production_server.url + "/api/v1/auth/token/",
            body={"username": "radiologist", "password": "not-the-password"},
            timeout=20,
        )
        assert token.status == 400 and token.is_json, token  # answered: wrong password here
        # ...while the slow uploads are all still pending: they held the proxy, not the app.
        assert not any(upload.answered() for upload in uploads)
    finally:
        for upload in uploads:
            upload.close()


def test_an_oversized_upload_is_a_json_413_whoever_refuses_it(production_server, radiologist):
    from django.conf import settings

    key = token_key_for(radiologist)
    headers = {"Authorization": f"Token {key}"}
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    for size in (limit + 1000, 4 * 1024 * 1024):  # the app's limit, then the proxy's
        body = b'{"registry_id": "' + b"x" * size + b'"}'
        answer = call(
            "POST", production_server.url + "/api/v1/patients/", body=body, headers=headers
        )
        assert answer.status == 413, (size, answer.status, answer.body[:300])
        assert answer.is_json, answer.headers
        assert "detail" in answer.json()
