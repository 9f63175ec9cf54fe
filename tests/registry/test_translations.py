"""French throughout: the catalogue is complete, and the main pages render in French.

The catalogue check reads ``locale/fr/LC_MESSAGES/django.po`` itself (polib): no entry may be
untranslated or fuzzy, and every translation keeps its placeholders. It does not re-extract the
strings: after adding a string, run ``manage.py makemessages -l fr`` (see README) so that it
appears here as untranslated. The page checks compile the catalogue (``compiletranslations``)
and ask with ``Accept-Language: fr``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import trans_real

from tests import factories

PO_PATH = Path(settings.BASE_DIR) / "locale" / "fr" / "LC_MESSAGES" / "django.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[-+ #0-9.]*[sdifr]|%[sdif]|\{\w*\}")


def catalogue() -> polib.POFile:
    return polib.pofile(str(PO_PATH))


def active_entries() -> list[polib.POEntry]:
    return [entry for entry in catalogue() if not entry.obsolete]


def test_no_entry_is_untranslated():
    missing = [
        entry.msgid
        for entry in active_entries()
        if not (all(entry.msgstr_plural.values()) if entry.msgid_plural else entry.msgstr)
    ]
    assert missing == []


def test_no_entry_is_fuzzy():
    assert [entry.msgid for entry in active_entries() if "fuzzy" in entry.flags] == []


def test_every_translation_keeps_its_placeholders():
    def placeholders(text: str) -> list[str]:
        return sorted(PLACEHOLDER.findall(text))

    wrong = []
    for entry in active_entries():
        if entry.msgid_plural:
            # French plural forms may drop a count the English singular does not show.
            continue
        if placeholders(entry.msgid) != placeholders(entry.msgstr):
            wrong.append((entry.msgid, entry.msgstr))
    assert wrong == []


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="GNU gettext is not installed")
def test_msgfmt_accepts_the_catalogue():
    result = subprocess.run(
        ["msgfmt", "--check", "-o", "/dev/null", str(PO_PATH)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def _compiled():
    call_command("compiletranslations", verbosity=0)
    # Forget catalogues loaded before the .mo was (re)written in this process.
    trans_real._translations = {}
    trans_real._default = None
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def french(_compiled, data_manager) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="fr")
    client.force_login(data_manager)
    return client


def test_the_case_list_is_in_french(french, department):
    factories.procedure(factories.patient(department))
    response = french.get(reverse("case-list"))
    assert response.status_code == 200
    assert response["Content-Language"] == "fr"
    assert "<h1" in (page := response.content.decode())
    assert ">Cas <small" in page
    assert "Déconnexion" in page or "Se déconnecter" in page or "Patients" in page


def test_the_dashboard_is_in_french(french):
    response = french.get(reverse("dashboard"))
    assert response.status_code == 200
    assert "Taux de complications" in response.content.decode()


def test_the_exports_page_is_in_french(french):
    response = french.get(reverse("exports"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Lancer un export" in page or "Démarrer un export" in page
    assert "Jeton d'API" in page or "Jeton d&#x27;API" in page


def test_the_audit_page_is_in_french(french, department):
    patient = factories.patient(department)
    response = french.get(reverse("audit-record", args=["patient", patient.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Journal d'audit de patient" in page
    assert "Les plus récentes d'abord" in page and ">Avant<" in page


def test_english_stays_english(_compiled, data_manager):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(data_manager)
    page = client.get(reverse("dashboard")).content.decode()
    assert "Complication rates" in page and "Taux de complications" not in page
