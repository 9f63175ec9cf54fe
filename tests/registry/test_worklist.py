"""The follow-up worklist: which fractures are due or overdue, in how many queries; the digest."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User
from django.urls import reverse

from registry.models import Profile
from registry.selectors import follow_up_worklist
from registry.tasks import send_worklist_digests
from tests import factories

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=ZoneInfo("UTC"))


def ended(department, hours_ago: float, *, fractures: int = 1):
    """A procedure of a new patient that ended ``hours_ago`` before NOW, with its fractures."""
    start = NOW - timedelta(hours=hours_ago, minutes=90)
    proc = factories.procedure(factories.patient(department), started_at=start, minutes=90)
    for side in ("left", "right")[:fractures]:
        factories.fracture(proc, side=side)
    return proc


def listed(user, **kwargs) -> set[tuple[str, str, bool]]:
    return {
        (item.procedure.patient.registry_id, item.check, item.overdue)
        for item in follow_up_worklist(user=user, now=NOW, **kwargs)
    }


def test_nothing_is_due_in_the_first_24_hours(radiologist, department):
    ended(department, 10)
    assert listed(radiologist) == set()


def test_the_24_hour_check_is_due_after_a_day_and_overdue_after_two(radiologist, department):
    due = ended(department, 30)
    late = ended(department, 50)
    assert listed(radiologist) == {
        (due.patient.registry_id, "24h", False),
        (late.patient.registry_id, "24h", True),
    }


def test_a_contact_after_the_end_settles_the_24_hour_check(radiologist, department):
    proc = ended(department, 30)
    factories.follow_up(proc, hours_after_end=2)
    assert listed(radiologist) == set()


def test_a_contact_during_the_procedure_does_not_count(radiologist, department):
    proc = ended(department, 30)
    factories.follow_up(proc, hours_after_end=-0.5)
    assert listed(radiologist) == {(proc.patient.registry_id, "24h", False)}


def test_the_later_follow_up_is_due_after_a_month_and_overdue_after_three(radiologist, department):
    due = ended(department, 40 * 24)
    late = ended(department, 100 * 24)
    done = ended(department, 100 * 24)
    for proc in (due, late, done):
        factories.follow_up(proc, hours_after_end=20)
    factories.follow_up(done, hours_after_end=60 * 24)
    assert listed(radiologist) == {
        (due.patient.registry_id, "later", False),
        (late.patient.registry_id, "later", True),
    }


def test_a_fracture_never_seen_is_listed_for_both_checks(radiologist, department):
    proc = ended(department, 40 * 24)
    assert listed(radiologist) == {
        (proc.patient.registry_id, "24h", True),
        (proc.patient.registry_id, "later", False),
    }


def test_each_fracture_needs_its_own_follow_up(radiologist, department):
    proc = ended(department, 30, fractures=2)
    left, right = proc.fractures.order_by("id")
    factories.follow_up(proc, hours_after_end=3, fractures=[left])
    items = follow_up_worklist(user=radiologist, now=NOW)
    assert [item.fracture for item in items] == [right]


def test_a_delayed_complication_is_evidence_of_follow_up_beyond_24_hours(radiologist, department):
    proc = ended(department, 40 * 24)
    factories.complication(proc, window="delayed", grade=2, hours_after_end=72)
    assert listed(radiologist) == set()


def test_the_worklist_takes_one_query_however_many_fractures(
    radiologist, department, django_assert_num_queries
):
    for n in range(12):
        proc = ended(department, 30 + n * 24, fractures=2)
        factories.follow_up(proc, hours_after_end=1, fractures=list(proc.fractures.all())[:1])
    with django_assert_num_queries(1):
        items = follow_up_worklist(user=radiologist, now=NOW)
        assert {item.procedure.patient.department.code for item in items} == {"A"}
    assert len(items) == 12


def test_the_worklist_is_scoped_to_the_users_departments(
    radiologist, outsider, department, other_department
):
    mine = ended(department, 30)
    theirs = ended(other_department, 30)
    assert listed(radiologist) == {(mine.patient.registry_id, "24h", False)}
    assert listed(outsider) == {(theirs.patient.registry_id, "24h", False)}


def test_the_worklist_page_lists_overdue_first_and_links_to_the_case(
    client, radiologist, department
):
    proc = factories.procedure(factories.patient(department, registry_id="LATE-1"))
    factories.fracture(proc)
    client.force_login(radiologist)
    response = client.get(reverse("worklist"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "LATE-1" in content and reverse("case-detail", args=[proc.pk]) in content
    assert response.context["overdue"] == 2


# --- the daily digest --------------------------------------------------------------------------


def opt_in(user: User, *, email: str, language: str = "") -> User:
    user.email = email
    user.save()
    Profile.objects.create(user=user, digest_opt_in=True, language=language)
    return user


def test_the_digest_mails_each_opted_in_radiologist_their_own_worklist(
    radiologist, outsider, head, department, other_department, mailoutbox
):
    mine = factories.procedure(factories.patient(department, registry_id="MINE-1"))
    factories.fracture(mine)
    theirs = factories.procedure(factories.patient(other_department, registry_id="THEIRS-1"))
    factories.fracture(theirs)
    opt_in(radiologist, email="rad@example.org")
    opt_in(outsider, email="out@example.org")
    opt_in(head, email="head@example.org")  # a department head is not a radiologist: no digest

    assert send_worklist_digests() == 2
    by_recipient = {mail.to[0]: mail for mail in mailoutbox}
    assert set(by_recipient) == {"rad@example.org", "out@example.org"}
    assert "MINE-1" in by_recipient["rad@example.org"].body
    assert "THEIRS-1" not in by_recipient["rad@example.org"].body
    assert "THEIRS-1" in by_recipient["out@example.org"].body
    assert by_recipient["rad@example.org"].subject == "PIGSF registry: 2 follow-ups due"
    assert "/worklist/" in by_recipient["rad@example.org"].body


def test_no_digest_without_opt_in_or_with_nothing_due(radiologist, department, mailoutbox):
    proc = factories.procedure(factories.patient(department))
    factories.fracture(proc)
    radiologist.email = "rad@example.org"
    radiologist.save()
    Profile.objects.create(user=radiologist, digest_opt_in=False)
    assert send_worklist_digests() == 0
    Profile.objects.filter(user=radiologist).update(digest_opt_in=True)
    factories.follow_up(proc, hours_after_end=2)
    factories.follow_up(proc, hours_after_end=24 * 60)
    assert send_worklist_digests() == 0
    assert mailoutbox == []


def test_the_digest_is_in_the_users_language(radiologist, department, mailoutbox):
    factories.fracture(factories.procedure(factories.patient(department)))
    opt_in(radiologist, email="rad@example.org", language="fr")
    send_worklist_digests()
    assert mailoutbox[0].subject == "Registre PIGSF : 2 suivis à faire"
    assert "en retard" in mailoutbox[0].body


def test_the_digest_queries_do_not_grow_with_the_number_of_users(
    department, django_assert_max_num_queries, mailoutbox
):
    from django.contrib.auth.models import Group

    from registry import roles

    factories.fracture(factories.procedure(factories.patient(department)))
    group = Group.objects.get(name=roles.RADIOLOGIST)
    for n in range(8):
        user = User.objects.create_user(f"rad{n}", email=f"rad{n}@example.org")
        user.groups.add(group)
        department.members.add(user)
        Profile.objects.create(user=user, digest_opt_in=True)
    with django_assert_max_num_queries(4):
        assert send_worklist_digests() == 8


def test_the_digest_is_scheduled_daily(settings):
    schedule = settings.CELERY_BEAT_SCHEDULE["worklist-digest"]
    assert schedule["task"] == "registry.tasks.send_worklist_digests"
    assert schedule["schedule"].hour == {7}
