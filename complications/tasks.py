"""Celery tasks of the complication domain: take ids, fetch, call a service."""

from __future__ import annotations

from celery import shared_task

from complications.services import complications_regrade


@shared_task(acks_late=True, autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def regrade_all() -> dict[str, int]:
    """Re-grade every complication after the catalogue changed; idempotent."""
    return complications_regrade()
