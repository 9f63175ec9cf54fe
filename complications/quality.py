"""Quality monitoring: each department's CUSUM charts against its targets, and the alerts.

``cusum_chart`` is what the dashboard draws; ``quality_check`` (run by the
``quality_check_all`` beat task) records an alert when a chart reaches its
limit and e-mails the department's heads. An alert stays open while the chart
stays at or above the limit, so a crossing raises one alert however often the
check runs; once the chart is back below, the alert is closed and the next
crossing raises a new one.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from complications.ctcae.cusum import bernoulli_cusum
from complications.models import QualityAlert, QualityTarget, Window
from complications.stats.cusum import cusum_series
from registry import roles
from registry.models import Department, FollowUpStatus, Procedure
from registry.scoping import scope_to_user

logger = logging.getLogger(__name__)


class _DepartmentReader:
    """The reader a background check uses: every department, narrowed by the
    ``department`` argument of the selector (``registry.scoping`` lets a
    superuser see everything)."""

    is_authenticated = True
    is_superuser = True
    is_active = True
    pk = None


SYSTEM = _DepartmentReader()


def cusum_chart(
    *, user: Any, department: Department | int, window: str, target: QualityTarget | None
) -> dict[str, Any]:
    """The chart of one window: one point per fracture at risk, oldest first.

    Without a target there is nothing to compare with: no points.
    """
    chart: dict[str, Any] = {
        "window": window,
        "target": None,
        "points": [],
        "current": 0.0,
        "signalling": False,
        "first_crossing": None,
    }
    if target is None:
        return chart
    outcomes = cusum_series(user=user, department=department, window=window)
    result = bernoulli_cusum(
        (row["major"] for row in outcomes),
        p0=target.target_rate,
        odds_ratio=target.odds_ratio,
        limit=target.limit,
    )
    chart["target"] = {
        "target_rate": target.target_rate,
        "odds_ratio": target.odds_ratio,
        "limit": target.limit,
    }
    chart["points"] = [
        {
            "n": i + 1,
            "fracture": row["fracture"],
            "procedure": row["procedure"],
            "started_at": row["started_at"],
            "major": row["major"],
            "cusum": round(value, 4),
        }
        for i, (row, value) in enumerate(zip(outcomes, result.series, strict=True))
    ]
    chart["current"] = round(result.last, 4)
    chart["signalling"] = result.signalling
    chart["first_crossing"] = None if result.first_crossing is None else result.first_crossing + 1
    return chart


def department_heads(department: Department | int) -> list[User]:
    """Active department heads of the department with an e-mail address."""
    return list(
        User.objects.filter(
            is_active=True, groups__name=roles.DEPARTMENT_HEAD, departments=department
        )
        .exclude(email="")
        .distinct()
        .order_by("pk")
    )


def _alert_messages(alert: QualityAlert) -> list[EmailMessage]:
    department = alert.department
    link = settings.SITE_URL.rstrip("/") + reverse("dashboard") + f"?department={department.pk}"
    subject = _("PIGSF registry: quality alert, %(window)s complications in %(department)s") % {
        "window": alert.get_window_display(),
        "department": department.code,
    }
    body = _(
        "The CUSUM of major %(window)s complications in %(department)s reached %(cusum).2f, "
        "at or above its limit of %(limit).2f, after %(fractures)d fractures "
        "(target rate %(target).1f %%).\n\nSee the dashboard: %(link)s\n"
    ) % {
        "window": alert.get_window_display().lower(),
        "department": department.name,
        "cusum": alert.cusum,
        "limit": alert.limit,
        "fractures": alert.fracture_count,
        "target": alert.target_rate * 100,
        "link": link,
    }
    return [EmailMessage(subject=subject, body=body, to=[head.email]) for head in
            department_heads(department)]  # fmt: skip


def quality_check(*, department: Department | int) -> list[QualityAlert]:
    """Check each of the department's targets; returns the alerts raised now.

    Idempotent: while a window's chart stays at or above its limit its open
    alert is kept and no other is raised (the database allows one open alert
    per department and window, so two concurrent checks cannot both raise
    one); a chart back below the limit closes its open alert. The e-mail is
    sent inside the transaction that records the alert: if the mail server
    fails, no alert is recorded and the next check raises it again.
    """
    department = (
        department if isinstance(department, Department) else Department.objects.get(pk=department)
    )
    raised = []
    targets = {t.window: t for t in QualityTarget.objects.filter(department=department)}
    for window in Window.values:
        target = targets.get(window)
        if target is None:
            continue
        chart = cusum_chart(user=SYSTEM, department=department, window=window, target=target)
        open_alerts = QualityAlert.objects.filter(
            department=department, window=window, returned_below_at__isnull=True
        )
        if not chart["signalling"]:
            open_alerts.update(returned_below_at=timezone.now())
            continue
        if open_alerts.exists():
            continue
        points = chart["points"]
        try:
            with transaction.atomic():
                alert = QualityAlert.objects.create(
                    department=department,
                    window=window,
                    cusum=chart["current"],
                    limit=target.limit,
                    target_rate=target.target_rate,
                    fracture_count=len(points),
                    procedure_count=len({p["procedure"] for p in points}),
                )
                messages = _alert_messages(alert)
                if messages:
                    get_connection().send_messages(messages)
        except IntegrityError:  # another check raised it at the same time
            logger.info("Quality alert for %s/%s already raised.", department.code, window)
            continue
        raised.append(alert)
    return raised


def quality_check_all() -> int:
    """``quality_check`` for every department with a target; the number of alerts raised."""
    departments = Department.objects.filter(quality_targets__isnull=False).distinct()
    return sum(len(quality_check(department=d)) for d in departments)


def alert_acknowledge(*, alert: QualityAlert, user: Any) -> QualityAlert:
    """Mark the alert as seen by ``user`` (the first acknowledgement is kept)."""
    if alert.acknowledged_at is None:
        alert.acknowledged_by = user
        alert.acknowledged_at = timezone.now()
        alert.save(update_fields=["acknowledged_by", "acknowledged_at"])
    return alert


# --- vital status against follow-up closure ---------------------------------------------------


def vital_status_problems(
    *, user: Any, department: Department | int | None = None
) -> dict[str, Any]:
    """Procedures whose follow-up status disagrees with the patient's vital status (the
    data-quality page): a recorded death whose procedures are not closed as ``deceased``, and
    procedures closed as ``deceased`` for a patient without a death date. One query each."""
    procedures = scope_to_user(Procedure.objects.all(), user)
    if department is not None:
        procedures = procedures.filter(patient__department=department)
    fields = (
        "id",
        "started_at",
        "follow_up_status",
        "follow_up_closed_on",
        "patient__registry_id",
        "patient__death_date",
        "patient__department__code",
    )
    return {
        "deaths_without_closing_status": list(
            procedures.filter(patient__death_date__isnull=False)
            .exclude(follow_up_status=FollowUpStatus.DECEASED)
            .order_by("started_at", "id")
            .values(*fields)
        ),
        "deceased_without_death_date": list(
            procedures.filter(
                follow_up_status=FollowUpStatus.DECEASED, patient__death_date__isnull=True
            )
            .order_by("started_at", "id")
            .values(*fields)
        ),
    }
