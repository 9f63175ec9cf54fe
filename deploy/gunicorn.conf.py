"""gunicorn's settings for the registry: ``gunicorn -c deploy/gunicorn.conf.py registry.wsgi``.

Used by docker-compose.yml's web service and the Dockerfile; why each value is what it is:
docs/deployment.md ("gunicorn behind nginx"). Every value can be changed per host with the
environment variable named beside it, without editing this file.

gunicorn runs behind nginx (deploy/nginx.conf), which buffers each request's whole body
and each response before passing them on: a slow client holds an nginx connection (a few
kilobytes), never a gunicorn thread. Published directly, any worker class can be frozen by
enough slow uploads; do not.
"""

from __future__ import annotations

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Threads, not processes, for the waiting: a request spends most of its time waiting on
# PostgreSQL or Redis, and a streamed export waits on its client. gthread lets a process
# serve several such requests; the heartbeat (``timeout``) is sent by the process's main
# thread, so a long export download is not killed for being long.
worker_class = "gthread"
workers = _int("GUNICORN_WORKERS", multiprocessing.cpu_count() + 1)
threads = _int("GUNICORN_THREADS", 4)
# A process that stops answering its arbiter for this long (stuck in C code, deadlocked) is
# killed and replaced. Not a request time limit under gthread.
timeout = _int("GUNICORN_TIMEOUT", 30)
# On a deploy or restart, requests in flight get this long to finish.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# nginx keeps connections to gunicorn open (upstream keepalive): a little longer than nginx's.
keepalive = _int("GUNICORN_KEEPALIVE", 75)
# Recycle processes now and then, so a slow leak never grows without bound.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 200)
# Request line and headers: the same bounds as nginx's large_client_header_buffers (8 KB).
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
# nginx is the only client: trust its X-Forwarded-* headers from the compose network.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "*")
accesslog = "-"
errorlog = "-"
control_socket_disable = True  # no shared control socket path between gunicorns of one user
