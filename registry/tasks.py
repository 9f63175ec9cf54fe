"""Celery tasks of the core app."""

from __future__ import annotations

import socket

from celery import shared_task
from django.db import connection

from registry.models import Department


@shared_task(acks_late=True)
def worker_health() -> dict[str, object]:
    """What a worker sees: its host and the database it reaches (for monitoring and CI)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {
        "host": socket.gethostname(),
        "database": connection.settings_dict["NAME"],
        "departments": Department.objects.count(),
    }
