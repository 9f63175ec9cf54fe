"""A contact or complication recorded without naming fractures covers every
fracture of its procedure, those recorded afterwards too; one that names
fractures covers those only. The services keep the fractures link (what every
reader counts) in step; the case pages' forms read "none ticked" as all."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from complications.models import ComplicationEvent
from complications.services import complication_record, complication_update
from complications.stats.rates import rates
from registry.models import FollowUp
from registry.services import follow_up_create, follow_up_update, fracture_create
from tests import factories

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2020, 3, 4, 9, 15, tzinfo=PARIS)
WOUND_INFECTION = "10048038"


@pytest.fixture
def proc(department):
    procedure = factories.procedure(factories.patient(department), started_at=START)
    factories.fracture(procedure, site="sacrum")
    return procedure


def add_fracture(procedure):
    return fracture_create(procedure=procedure, type="insufficiency", site="iliac", side="right")


def contact(procedure, **kwargs):
    return follow_up_create(
        procedure=procedure,
        contact_at=procedure.ended_at + timedelta(hours=48),
        kind="clinical",
        **kwargs,
    )


def delayed_complication(procedure, **kwargs):
    return complication_record(
        procedure=procedure,
        term=WOUND_INFECTION,
        facts={"intervention": "oral"},
        onset_at=procedure.ended_at + timedelta(hours=72),
        **kwargs,
    )


@pytest.mark.django_db
def test_a_fracture_added_later_is_covered_by_all_fractures_records_and_counted(proc, head):
    follow_up, event = contact(proc), delayed_complication(proc)

    added = add_fracture(proc)

    for record in (follow_up, event):
        record.refresh_from_db()
        assert record.all_fractures is True
        assert set(record.fractures.all()) == set(proc.fractures.all())
        assert added in record.fractures.all()
    windows = rates(user=head)["windows"]
    assert (windows["early"]["at_risk"], windows["delayed"]["at_risk"]) == (2, 2)
    assert windows["delayed"]["events"] == 2


@pytest.mark.django_db
def test_a_fracture_added_later_is_not_covered_by_records_that_name_fractures(proc, head):
    sacrum = proc.fractures.get()
    follow_up = contact(proc, fractures=[sacrum.pk])
    event = delayed_complication(proc, fractures=[sacrum])

    add_fracture(proc)

    for record in (follow_up, event):
        record.refresh_from_db()
        assert record.all_fractures is False
        assert list(record.fractures.all()) == [sacrum]
    windows = rates(user=head)["windows"]
    assert (windows["early"]["at_risk"], windows["delayed"]["at_risk"]) == (1, 1)
    assert windows["delayed"]["events"] == 1


@pytest.mark.django_db
def test_an_update_names_fractures_keeps_the_mode_or_restores_all(proc):
    sacrum = proc.fractures.get()
    follow_up = contact(proc)

    follow_up_update(follow_up=follow_up, notes="Seen again.")
    assert follow_up.all_fractures is True
    follow_up_update(follow_up=follow_up, fractures=[sacrum.pk])
    assert follow_up.all_fractures is False
    iliac = add_fracture(proc)
    assert list(follow_up.fractures.all()) == [sacrum]
    follow_up_update(follow_up=follow_up, fractures=[])
    assert follow_up.all_fractures is True
    assert set(follow_up.fractures.all()) == {sacrum, iliac}


@pytest.mark.django_db
def test_a_complication_update_names_fractures_keeps_the_mode_or_restores_all(proc):
    sacrum = proc.fractures.get()
    event = delayed_complication(proc, fractures=[sacrum.pk])

    complication_update(event=event, description="Reviewed.")
    assert event.all_fractures is False
    complication_update(event=event, fractures=[])
    assert event.all_fractures is True
    iliac = add_fracture(proc)
    assert set(event.fractures.all()) == {sacrum, iliac}


@pytest.mark.django_db
def test_the_audit_trail_records_a_fracture_added_to_an_all_fractures_contact(proc):
    follow_up = contact(proc)

    iliac = add_fracture(proc)

    latest = follow_up.history.first()
    assert iliac.pk in {row.fracture_id for row in latest.fractures.all()}


# --- the case pages' forms ------------------------------------------------------------


@pytest.fixture
def as_radiologist(client, radiologist):
    client.force_login(radiologist)
    return client


@pytest.mark.django_db
def test_the_follow_up_form_ticks_no_fracture_and_saves_all(as_radiologist, proc):
    page = as_radiologist.get(reverse("case-detail", args=[proc.pk]))
    assert not page.context["follow_up_form"]["fractures"].value()

    as_radiologist.post(
        reverse("case-follow-up-add", args=[proc.pk]),
        {"contact_at": "2020-03-06T09:00", "kind": "phone"},
    )

    assert FollowUp.objects.get().all_fractures is True


@pytest.mark.django_db
def test_the_complication_edit_form_keeps_all_fractures_when_none_is_ticked(as_radiologist, proc):
    sacrum = proc.fractures.get()
    event = delayed_complication(proc, fractures=[sacrum.pk])
    url = reverse("case-complication-edit", args=[proc.pk, event.pk])
    assert as_radiologist.get(url).context["form"]["fractures"].value() == [sacrum.pk]
    complication_update(event=event, fractures=[])
    assert not as_radiologist.get(url).context["form"]["fractures"].value()

    response = as_radiologist.post(
        url,
        {
            "term": f"{WOUND_INFECTION} Wound infection",
            "onset_kind": "at",
            "onset_at": "2020-03-07T08:00",
            "intervention": "oral",
        },
    )

    assert response.status_code == 302
    event = ComplicationEvent.objects.get()
    assert event.all_fractures is True
    add_fracture(proc)
    assert event.fractures.count() == 2


# --- the admin -----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_fracture_added_in_the_admin_is_covered_by_all_fractures_records(
    client, admin_user, proc
):
    follow_up, event = contact(proc), delayed_complication(proc)
    client.force_login(admin_user)

    response = client.post(
        "/admin/registry/fracture/add/",
        {"procedure": proc.pk, "type": "impending", "site": "iliac", "side": "right", "screws": 1},
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert follow_up.fractures.count() == event.fractures.count() == 2


@pytest.mark.django_db
def test_fractures_picked_in_the_admin_restrict_the_contact(client, admin_user, proc):
    sacrum = proc.fractures.get()
    follow_up = contact(proc)
    other = add_fracture(proc)
    client.force_login(admin_user)

    response = client.post(
        f"/admin/registry/followup/{follow_up.pk}/change/",
        {
            "procedure": proc.pk,
            "fractures": [sacrum.pk],
            "contact_at_0": "2020-03-06",
            "contact_at_1": "10:00:00",
            "kind": "clinical",
            "notes": "",
            "reason": "Contact covered the sacrum only",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    follow_up.refresh_from_db()
    assert follow_up.all_fractures is False
    add_fracture(proc)
    assert list(follow_up.fractures.all()) == [sacrum] and other not in follow_up.fractures.all()
