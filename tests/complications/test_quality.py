"""Quality monitoring: CUSUM charts against targets, alerts, e-mails, scoping, permissions."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from complications import quality, tasks
from complications.models import QualityAlert, QualityTarget
from complications.stats.cusum import cusum_series
from registry import roles
from tests import factories as f
from tests.conftest import PASSWORD, api_client_for
from tests.factories import PARIS

CUSUM = "/api/v1/stats/cusum/"
TARGETS = "/dashboard/targets/"
ALERTS = "/dashboard/alerts/"

# p0 = 0.1, OR = 2: a major complication adds ln(0.2/1.1 / 0.1) = 0.598, a fracture
# without one ln((0.9/1.1) / 0.9) = -0.0953; a limit of 1 is crossed by two in a row.
LIMIT = 1.0


def cases(department, outcomes, *, start=datetime(2024, 1, 1, 9, tzinfo=PARIS), window="early"):
    """One procedure with one fracture per outcome, a day apart after ``start``, each
    followed up 2 hours after the end (in the early denominator); truthy: a major
    complication in ``window``."""
    procedures = []
    for i, major in enumerate(outcomes):
        proc = f.procedure(f.patient(department), started_at=start + timedelta(days=i))
        f.fracture(proc)
        f.follow_up(proc, hours_after_end=2)
        if major:
            f.complication(proc, window=window, grade=3)
        procedures.append(proc)
    return procedures


def target(department, window="early", *, rate=0.1, limit=LIMIT):
    return QualityTarget.objects.create(
        department=department, window=window, target_rate=rate, odds_ratio=2.0, limit=limit
    )


@pytest.fixture
def head_with_email(head):
    head.email = "head@a.example"
    head.save()
    return head


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_series_is_the_early_denominator_in_procedure_order(head, department):
    late, early = cases(department, [1, 0], start=datetime(2024, 3, 1, tzinfo=PARIS))
    # A minor complication is no failure; a fracture without follow-up is not at risk early.
    (minor,) = cases(department, [0], start=datetime(2024, 1, 1, tzinfo=PARIS))
    f.complication(minor, window="early", grade=2)
    unfollowed = f.procedure(f.patient(department), started_at=datetime(2024, 2, 1, tzinfo=PARIS))
    f.fracture(unfollowed)
    series = cusum_series(user=head, department=department, window="early")
    assert [(row["procedure"], row["major"]) for row in series] == [
        (minor.pk, False),
        (late.pk, True),
        (early.pk, False),
    ]
    per_procedural = cusum_series(user=head, department=department, window="per_procedural")
    assert len(per_procedural) == 4 and not any(row["major"] for row in per_procedural)


def test_the_series_takes_one_query_however_many_fractures(head, department):
    cases(department, [1, 0, 0])
    with CaptureQueriesContext(connection) as few:
        cusum_series(user=head, department=department, window="early")
    cases(department, [1, 0, 1, 0, 0, 1, 0], start=datetime(2024, 6, 1, tzinfo=PARIS))
    with CaptureQueriesContext(connection) as many:
        assert len(cusum_series(user=head, department=department, window="early")) == 10
    assert len(few) == len(many) == 1


def test_an_alert_is_raised_once_per_crossing_and_mailed_to_the_heads(
    head_with_email, department, other_department, radiologist, mailoutbox
):
    radiologist.email = "rad@a.example"
    radiologist.save()
    other_head = User.objects.create_user("other_head", email="head@b.example")
    other_head.groups.add(Group.objects.get(name=roles.DEPARTMENT_HEAD))
    other_department.members.add(other_head)
    target(department)
    cases(department, [0, 1])
    assert quality.quality_check(department=department) == []  # 0.598 < 1

    cases(department, [1], start=datetime(2024, 2, 1, tzinfo=PARIS))  # 1.196: crossing
    (alert,) = quality.quality_check(department=department)
    assert (alert.window, alert.fracture_count, alert.procedure_count) == ("early", 3, 3)
    assert alert.cusum == pytest.approx(1.1957, abs=1e-4) and alert.limit == LIMIT
    assert [m.to for m in mailoutbox] == [["head@a.example"]]
    assert "Department A" in mailoutbox[0].body and "1.20" in mailoutbox[0].body

    # Still above: nothing new, however often the check runs (the beat task too).
    assert quality.quality_check(department=department) == []
    assert tasks.quality_check_all.delay().get() == 0
    assert QualityAlert.objects.count() == 1 and len(mailoutbox) == 1

    # Back below the limit: the alert is closed; crossing again raises a second one.
    cases(department, [0, 0, 0], start=datetime(2024, 3, 1, tzinfo=PARIS))
    assert quality.quality_check(department=department) == []
    alert.refresh_from_db()
    assert alert.returned_below_at is not None
    cases(department, [1], start=datetime(2024, 4, 1, tzinfo=PARIS))
    (second,) = quality.quality_check(department=department)
    assert second.fracture_count == 7 and len(mailoutbox) == 2
    assert QualityAlert.objects.filter(returned_below_at__isnull=True).get() == second


def test_a_failing_mail_server_records_no_alert_so_the_next_check_retries(
    head_with_email, department, monkeypatch, mailoutbox
):
    target(department)
    cases(department, [1, 1])

    def broken(self, messages):
        raise OSError("mail server down")

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", broken)
    with pytest.raises(OSError):
        quality.quality_check(department=department)
    assert not QualityAlert.objects.exists()
    monkeypatch.undo()
    assert len(quality.quality_check(department=department)) == 1


def test_the_check_runs_every_hour_from_the_beat_schedule():
    entry = settings.CELERY_BEAT_SCHEDULE["quality-check"]
    assert entry["task"] == "complications.tasks.quality_check_all"
    assert entry["task"] == tasks.quality_check_all.name


def test_the_chart_endpoint_gives_the_series_and_the_limit(head, department):
    target(department)
    cases(department, [1, 1, 0])
    response = api_client_for(head).get(CUSUM, {"department": department.pk, "window": "early"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["target"] == {"target_rate": 0.1, "odds_ratio": 2.0, "limit": LIMIT}
    assert [p["cusum"] for p in body["points"]] == [0.5978, 1.1957, 1.1004]
    assert [p["major"] for p in body["points"]] == [True, True, False]
    assert body["first_crossing"] == 2 and body["signalling"] is True
    no_target = api_client_for(head).get(CUSUM, {"department": department.pk, "window": "delayed"})
    assert no_target.json()["target"] is None and no_target.json()["points"] == []


@pytest.mark.parametrize(
    "query", [{"window": "early"}, {"department": "x", "window": "early"}, {"department": 1}]
)
def test_a_bad_chart_query_is_a_400(head, department, query):
    assert api_client_for(head).get(CUSUM, query).status_code == 400


def test_another_departments_chart_targets_and_alerts_are_invisible(
    head, department, other_department, outsider
):
    target(department)
    cases(department, [1, 1])
    (alert,) = quality.quality_check(department=department)
    outsider.groups.add(Group.objects.get(name=roles.DEPARTMENT_HEAD))
    outsider = User.objects.get(pk=outsider.pk)  # no stale permission cache
    api = api_client_for(outsider)
    assert api.get(CUSUM, {"department": department.pk, "window": "early"}).status_code == 404
    client = logged_in(outsider)
    assert client.get(ALERTS).json() == {"alerts": []}
    assert client.get(ALERTS, {"department": department.pk}).status_code == 404
    assert client.get(TARGETS, {"department": department.pk}).status_code == 404
    posted = client.post(
        TARGETS, {"department": department.pk, "early-target_rate": "0.5", "early-odds_ratio": "2",
                   "early-limit": "4", "per_procedural-odds_ratio": "2", "per_procedural-limit": "4",
                   "delayed-odds_ratio": "2", "delayed-limit": "4"},
    )  # fmt: skip
    assert posted.status_code == 404
    assert QualityTarget.objects.get(department=department).target_rate == 0.1
    assert client.post(f"{ALERTS}{alert.pk}/acknowledge/").status_code == 404
    alert.refresh_from_db()
    assert alert.acknowledged_at is None
    # The head of the department sees it.
    mine = logged_in(head).get(ALERTS).json()["alerts"]
    assert [a["id"] for a in mine] == [alert.pk] and mine[0]["acknowledge_url"]


def test_only_heads_set_targets(head, radiologist, department):
    form = {
        "department": department.pk,
        "per_procedural-target_rate": "",
        "per_procedural-odds_ratio": "2",
        "per_procedural-limit": "4",
        "early-target_rate": "0.05",
        "early-odds_ratio": "2",
        "early-limit": "4",
        "delayed-target_rate": "0.08",
        "delayed-odds_ratio": "3",
        "delayed-limit": "5",
    }
    rad = logged_in(radiologist)
    assert rad.get(TARGETS).status_code == 403
    assert rad.post(TARGETS, form).status_code == 403
    assert not QualityTarget.objects.exists()

    client = logged_in(head)
    page = client.get(TARGETS)
    assert page.status_code == 200 and b'name="early-target_rate"' in page.content
    response = client.post(TARGETS, form)
    assert response.status_code == 302
    saved = {
        t.window: (t.target_rate, t.odds_ratio, t.limit, t.updated_by)
        for t in QualityTarget.objects.all()
    }
    assert saved == {"early": (0.05, 2.0, 4.0, head), "delayed": (0.08, 3.0, 5.0, head)}
    # A blank rate removes the target; an out-of-range one is refused.
    assert client.post(TARGETS, {**form, "delayed-target_rate": ""}).status_code == 302
    assert set(QualityTarget.objects.values_list("window", flat=True)) == {"early"}
    refused = client.post(TARGETS, {**form, "early-target_rate": "1.5", "early-odds_ratio": "1"})
    assert refused.status_code == 200
    assert b"strictly between 0 and 1" in refused.content and b"greater than 1" in refused.content
    assert QualityTarget.objects.get().target_rate == 0.05


def test_a_head_acknowledges_an_alert_and_a_radiologist_cannot(head, radiologist, department):
    target(department)
    cases(department, [1, 1])
    (alert,) = quality.quality_check(department=department)
    rad = logged_in(radiologist)
    alerts = rad.get(ALERTS).json()["alerts"]
    assert [a["id"] for a in alerts] == [alert.pk] and alerts[0]["acknowledge_url"] is None
    assert rad.post(f"{ALERTS}{alert.pk}/acknowledge/").status_code == 403
    client = Client(enforce_csrf_checks=True)
    assert client.login(username="head", password=PASSWORD)
    assert client.post(f"{ALERTS}{alert.pk}/acknowledge/").status_code == 403  # no CSRF token
    client = logged_in(head)
    response = client.post(f"{ALERTS}{alert.pk}/acknowledge/", {"next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    alert.refresh_from_db()
    assert alert.acknowledged_by == head and alert.acknowledged_at is not None
    row = client.get(ALERTS).json()["alerts"][0]
    assert row["acknowledged_by"] == "head" and row["acknowledge_url"] is None


def test_the_dashboard_has_the_quality_section(head, department):
    target(department)
    cases(department, [1])
    page = logged_in(head).get("/dashboard/", {"department": department.pk})
    assert page.status_code == 200
    content = page.content.decode()
    assert 'id="quality"' in content and "js/cusum.js" in content
    assert 'id="cusum-early"' in content and 'id="quality-targets-link"' in content
    assert f'data-department="{department.pk}"' in content
