"""Celery tasks of the core app."""

from __future__ import annotations

import socket

from celery import shared_task
from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import EmailMessage, get_connection
from django.db import connection
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import ngettext

from registry import idempotency, roles
from registry.models import DataQuery, Department, QueryStatus
from registry.selectors import follow_up_worklists_by_department


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


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=60, max_retries=3)
def send_worklist_digests() -> int:
    """E-mail each opted-in radiologist the follow-ups due or overdue in their departments.

    Daily (``CELERY_BEAT_SCHEDULE``). The worklists of all departments are computed in one
    query, then cut per user, so the task's queries do not grow with the number of users. A
    user with nothing due gets no e-mail. Retried on mail-server errors (``OSError``); a retry
    may resend digests already sent, which is the lesser harm than a missing one. Returns the
    number of e-mails sent.
    """
    now = timezone.now()
    worklists = follow_up_worklists_by_department(now=now)
    users = (
        User.objects.filter(
            is_active=True, profile__digest_opt_in=True, groups__name=roles.RADIOLOGIST
        )
        .exclude(email="")
        .select_related("profile")
        .prefetch_related("departments")
        .distinct()
    )
    worklist_url = settings.SITE_URL.rstrip("/") + reverse("worklist")
    # The open queries asked of each radiologist (registry.queries), in one query.
    asked: dict[int, list[DataQuery]] = {}
    for query in DataQuery.objects.filter(
        status=QueryStatus.OPEN, assigned_to__isnull=False
    ).select_related("procedure__patient"):
        asked.setdefault(query.assigned_to_id, []).append(query)  # type: ignore[arg-type]
    messages = []
    for user in users:
        items = [item for dept in user.departments.all() for item in worklists.get(dept.pk, [])]
        queries = asked.get(user.pk, [])
        if not items and not queries:
            continue
        with translation.override(user.profile.language or settings.LANGUAGE_CODE):
            context = {
                "user": user,
                "items": items,
                "now": now,
                "worklist_url": worklist_url,
                "overdue": sum(item.overdue for item in items),
                "queries": queries,
            }
            subject = (
                ngettext(
                    "PIGSF registry: %(count)d follow-up due",
                    "PIGSF registry: %(count)d follow-ups due",
                    len(items),
                )
                % {"count": len(items)}
                if items
                else ngettext(
                    "PIGSF registry: %(count)d query to answer",
                    "PIGSF registry: %(count)d queries to answer",
                    len(queries),
                )
                % {"count": len(queries)}
            )
            messages.append(
                EmailMessage(
                    subject=subject,
                    body=render_to_string("registry/email/worklist_digest.txt", context),
                    to=[user.email],
                )
            )
    if messages:
        get_connection().send_messages(messages)
    return len(messages)


@shared_task(acks_late=True)
def idempotency_cleanup() -> int:
    """Forget the stored answers of idempotent writes older than a day (hourly, beat)."""
    return idempotency.idempotency_cleanup()
