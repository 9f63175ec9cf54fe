"""Optimistic concurrency in the web forms: two people editing one record never overwrite.

The edit forms carry a hidden ``version`` (a signed snapshot of the record's editable values as
the page showed them). The save re-reads the record under a row lock (``select_for_update``) in
its transaction; if it moved, nothing is saved and the page comes back with **HTTP 409**, the
user's input kept, and a table of the other person's changes (their value against the user's).
The refreshed version on that page lets the user save again once they have re-applied.
A post without a version is not checked (as the API without ``If-Match``).
"""

from __future__ import annotations

import re
import threading
import time
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.test import Client
from django.urls import reverse
from django.utils.translation import trans_real

from complications.models import ComplicationEvent
from tests import factories, services

WOUND_INFECTION = "10048038"


def complication_data(**overrides: str) -> dict[str, str]:
    data = {
        "term": f"{WOUND_INFECTION} Wound infection",
        "onset_kind": "at",
        "onset_at": "2020-01-10T08:00",
        "intervention": "iv",
        "hospitalization": "on",
        "outcome": "resolved",
    }
    data.update(overrides)
    return data


@pytest.fixture(autouse=True, scope="module")
def _french_catalogue():
    """The French pages below need the compiled catalogue (the .mo is not in git)."""
    call_command("compiletranslations", verbosity=0)
    trans_real._translations = {}
    trans_real._default = None


@pytest.fixture
def case(department):
    proc = factories.procedure(factories.patient(department, sex="male"))
    factories.fracture(proc, side="left")
    return proc


@pytest.fixture
def alice(radiologist) -> Client:
    client = Client()
    client.force_login(radiologist)
    return client


@pytest.fixture
def bob(data_manager) -> Client:
    client = Client()
    client.force_login(data_manager)
    return client


@pytest.fixture
def event(alice, case) -> ComplicationEvent:
    response = alice.post(reverse("case-complication-add", args=[case.pk]), complication_data())
    assert response.status_code == 302
    return ComplicationEvent.objects.get()


def edit_url(case, event) -> str:
    return reverse("case-complication-edit", args=[case.pk, event.pk])


def loaded_version(client: Client, url: str) -> str:
    """Open the edit page as a browser does; the hidden version it carries."""
    response = client.get(url)
    assert response.status_code == 200
    version = response.context["form"]["version"].value()
    assert version and f'name="version" value="{version}"' in response.content.decode()
    return version


def test_the_second_save_gets_a_conflict_and_the_first_value_stays(alice, bob, case, event):
    url = edit_url(case, event)
    alice_version = loaded_version(alice, url)
    bob_version = loaded_version(bob, url)

    first = alice.post(url, complication_data(intervention="oral", version=alice_version))
    assert first.status_code == 302

    second = bob.post(
        url,
        complication_data(intervention="invasive", description="Bob's note", version=bob_version),
    )
    assert second.status_code == 409
    event.refresh_from_db()
    assert event.facts["intervention"] == "oral"
    assert event.description == ""

    # The conflict says who changed what: their value against Bob's own input.
    conflict = second.context["conflict"]
    assert conflict.user == "radiologist"
    assert (
        "Highest intervention indicated",
        "Oral",
        "Invasive (radiologic, endoscopic, operative)",
    ) in (conflict.changes)
    assert [label for label, _theirs, _yours in conflict.changes] == [
        "Highest intervention indicated"
    ]
    page = second.content.decode()
    assert 'id="edit-conflict"' in page
    assert "saved this record after you opened it" in page
    # Bob's input is kept so he can re-apply it.
    form = second.context["form"]
    assert form["description"].value() == "Bob's note"
    assert form["intervention"].value() == "invasive"

    # Having read the conflict, Bob saves again with the page's refreshed version.
    refreshed = form["version"].value()
    assert refreshed != bob_version
    third = bob.post(
        url,
        complication_data(intervention="invasive", description="Bob's note", version=refreshed),
    )
    assert third.status_code == 302
    event.refresh_from_db()
    assert (event.facts["intervention"], event.description) == ("invasive", "Bob's note")


def test_each_save_in_turn_with_a_fresh_page_is_no_conflict(alice, bob, case, event):
    url = edit_url(case, event)
    assert (
        alice.post(
            url, complication_data(outcome="ongoing", version=loaded_version(alice, url))
        ).status_code
        == 302
    )
    assert (
        bob.post(
            url,
            complication_data(
                outcome="ongoing", description="ok", version=loaded_version(bob, url)
            ),
        ).status_code
        == 302
    )
    event.refresh_from_db()
    assert (event.outcome, event.description) == ("ongoing", "ok")


def test_a_fracture_change_by_another_is_a_conflict(alice, bob, case, event):
    extra = factories.fracture(case, side="right")
    url = edit_url(case, event)
    alice_version = loaded_version(alice, url)
    bob_version = loaded_version(bob, url)
    assert (
        alice.post(
            url, complication_data(fractures=str(extra.pk), version=alice_version)
        ).status_code
        == 302
    )
    response = bob.post(url, complication_data(outcome="ongoing", version=bob_version))
    assert response.status_code == 409
    assert [row[0] for row in response.context["conflict"].changes] == ["Fractures concerned"]
    event.refresh_from_db()
    assert list(event.fractures.all()) == [extra] and event.outcome == "resolved"


def test_an_edit_through_the_api_meanwhile_is_a_conflict_too(alice, case, event, radiologist):
    from complications.services import complication_update

    url = edit_url(case, event)
    version = loaded_version(alice, url)
    complication_update(event=event, description="changed elsewhere")
    response = alice.post(url, complication_data(outcome="ongoing", version=version))
    assert response.status_code == 409
    assert response.context["conflict"].changes == [("Description", "changed elsewhere", "—")]
    event.refresh_from_db()
    assert (event.outcome, event.description) == ("resolved", "changed elsewhere")


def test_a_tampered_version_is_a_conflict_not_a_save(alice, case, event):
    response = alice.post(
        edit_url(case, event), complication_data(outcome="ongoing", version="forged")
    )
    assert response.status_code == 409
    event.refresh_from_db()
    assert event.outcome == "resolved"


def test_a_post_without_a_version_is_not_checked(alice, case, event):
    # As the API without If-Match: scripts and old pages still save (last write wins).
    response = alice.post(edit_url(case, event), complication_data(outcome="ongoing"))
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.outcome == "ongoing"


def test_the_conflict_page_is_in_french(alice, bob, case, event, radiologist):
    from registry.models import Profile

    Profile.objects.update_or_create(user=radiologist, defaults={"language": "fr"})
    url = edit_url(case, event)
    alice_version = loaded_version(alice, url)
    bob_version = loaded_version(bob, url)
    assert (
        bob.post(url, complication_data(outcome="ongoing", version=bob_version)).status_code == 302
    )
    response = alice.post(url, complication_data(version=alice_version), HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 409
    page = response.content.decode()
    assert "Quelqu'un d'autre a modifié cette fiche" in page
    assert "data_manager a enregistré cette fiche" in page
    assert "<td>En cours</td><td>Résolue</td>" in page


# --- the profile (one owner, but two windows or devices) ----------------------------------------


def test_the_profile_saved_in_another_window_is_a_conflict(client, radiologist):
    from registry.models import Profile

    client.force_login(radiologist)
    url = reverse("profile")
    first_window = loaded_version(client, url)
    second_window = loaded_version(client, url)
    data = {"language": "fr", "digest_opt_in": "on", "email": "rad@example.org"}
    assert client.post(url, {**data, "version": first_window}).status_code == 302

    response = client.post(
        url, {"language": "en", "digest_opt_in": "", "email": "", "version": second_window}
    )
    assert response.status_code == 409
    profile = Profile.objects.get(user=radiologist)
    assert (profile.language, profile.digest_opt_in) == ("fr", True)
    # The saved profile is in French, so is the page: (label, theirs, yours).
    assert sorted(response.context["conflict"].changes) == [
        ("E-mail (pour le récapitulatif)", "rad@example.org", "—"),
        ("Langue de l'interface", "Français", "English"),
        ("Récapitulatif quotidien des suivis par e-mail", "Oui", "Non"),
    ]
    assert 'id="edit-conflict"' in response.content.decode()

    refreshed = response.context["form"]["version"].value()
    again = client.post(
        url, {"language": "en", "digest_opt_in": "", "email": "", "version": refreshed}
    )
    assert again.status_code == 302
    profile.refresh_from_db()
    assert (profile.language, profile.digest_opt_in) == ("en", False)


# --- truly simultaneous saves (the row lock), on PostgreSQL --------------------------------------


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs concurrent connections (PostgreSQL)"
)
# serialized_rollback, as every transactional test here: the migrations' data (roles, CTCAE).
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_simultaneous_saves_wait_for_the_lock_and_the_second_gets_the_conflict(
    radiologist, data_manager, department
):
    from complications import services

    proc = factories.procedure(factories.patient(department, sex="male"))
    factories.fracture(proc)
    alice, bob = Client(), Client()
    alice.force_login(radiologist)
    bob.force_login(data_manager)
    assert (
        alice.post(
            reverse("case-complication-add", args=[proc.pk]), complication_data()
        ).status_code
        == 302
    )
    event = ComplicationEvent.objects.get()
    url = edit_url(proc, event)
    alice_version, bob_version = loaded_version(alice, url), loaded_version(bob, url)

    inside = threading.Event()
    original = services.complication_update

    def slow_update(**kwargs):
        inside.set()
        time.sleep(0.5)  # Alice holds the row lock while Bob's save arrives.
        return original(**kwargs)

    statuses: dict[str, int] = {}

    def submit(name: str, client: Client, data: dict[str, str]) -> None:
        try:
            statuses[name] = client.post(url, data).status_code
        finally:
            connections.close_all()

    with mock.patch("complications.entry_views.complication_update", side_effect=slow_update):
        first = threading.Thread(
            target=submit,
            args=("alice", alice, complication_data(intervention="oral", version=alice_version)),
        )
        first.start()
        assert inside.wait(10)
        second = threading.Thread(
            target=submit,
            args=("bob", bob, complication_data(intervention="invasive", version=bob_version)),
        )
        second.start()
        first.join(20)
        second.join(20)

    assert statuses == {"alice": 302, "bob": 409}
    event.refresh_from_db()
    assert event.facts["intervention"] == "oral"


# --- in a real browser: the hidden version travels with the form --------------------------------


@pytest.mark.skipif(services.chromium_path() is None, reason="needs Chromium")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_browsers_editing_one_complication(
    live_server, radiologist, data_manager, department, monkeypatch
):
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    proc = factories.procedure(factories.patient(department, sex="male"))
    factories.fracture(proc)
    setup = Client()
    setup.force_login(radiologist)
    setup.post(reverse("case-complication-add", args=[proc.pk]), complication_data())
    event = ComplicationEvent.objects.get()
    url = edit_url(proc, event)
    errors: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=services.chromium_path(), args=["--no-sandbox", "--disable-gpu"]
        )

        def page_for(user):  # type: ignore[no-untyped-def]
            client = Client()
            client.force_login(user)
            context = browser.new_context(base_url=live_server.url, timezone_id="Europe/Paris")
            context.add_cookies(
                [
                    {
                        "name": "sessionid",
                        "value": client.cookies["sessionid"].value,
                        "url": live_server.url,
                    }
                ]
            )
            page = context.new_page()
            page.set_default_timeout(10_000)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            return page

        alice, bob = page_for(radiologist), page_for(data_manager)
        alice.select_option("#id_intervention", "oral")
        alice.click("#save-complication")
        alice.wait_for_url(re.compile(rf"/cases/{proc.pk}/#complications$"))

        bob.select_option("#id_intervention", "invasive")
        bob.fill("#id_description", "Bob's note")
        bob.click("#save-complication")
        conflict = bob.locator("#edit-conflict")
        expect(conflict).to_contain_text("Someone else changed this record")
        expect(conflict).to_contain_text("radiologist")
        expect(conflict.locator("tbody tr")).to_have_text(
            re.compile(r"Highest intervention indicated\s*Oral\s*Invasive")
        )
        # Bob's input is still on the form; saving again, knowingly, goes through.
        expect(bob.locator("#id_description")).to_have_value("Bob's note")
        event.refresh_from_db()
        assert event.facts["intervention"] == "oral"
        bob.click("#save-complication")
        bob.wait_for_url(re.compile(rf"/cases/{proc.pk}/#complications$"))
        browser.close()

    event.refresh_from_db()
    assert (event.facts["intervention"], event.description) == ("invasive", "Bob's note")
    assert errors == []
