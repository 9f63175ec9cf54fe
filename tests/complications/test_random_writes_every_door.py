"""Random writes through every door, then nothing derived may differ from a recomputation.

The random sequence of ``test_rates_match_recomputation`` goes through the services
only. Here the same kinds of writes go, at random, through each way into the
registry: the services, the REST API (an ``APIClient`` with a token), the case
pages (the Django test client, the forms a radiologist posts) and the Celery
re-grading task run in-process, and the Django admin as an administrator uses it
(its forms save through the services). After every write the outcome summary equals a
rebuild; at the end ``registry_verify`` finds no difference (grades, windows,
hours, CIRSE/SIR and the summary), a re-grading changes nothing, and the rates
equal the naive recomputation. Runs on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, datetime, timedelta
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from complications import verify
from complications.models import ComplicationEvent
from complications.outcomes.check import outcomes_differences
from complications.stats.rates import rates
from complications.tasks import regrade_all
from registry.models import Department, FollowUp, Fracture, Procedure
from tests.complications.test_rates_match_recomputation import (
    ENTRIES,
    FRACTURE_TYPES,
    SITES,
    SPECIFY_TEXTS,
    UNITS,
    Cohort,
    naive_rates,
    selector_counts,
)
from tests.conftest import api_client_for

LOCAL_MINUTE = "%Y-%m-%dT%H:%M"  # what a datetime-local input posts
SITE_ZONE = ZoneInfo(settings.TIME_ZONE)  # the admin's date and time boxes


def _admin_moment(name: str, moment: datetime) -> dict[str, str]:
    local = moment.astimezone(SITE_ZONE)
    return {f"{name}_0": local.strftime("%Y-%m-%d"), f"{name}_1": local.strftime("%H:%M:%S")}


class Refused(Exception):
    """The door refused the write (a 400, or a form shown again with its errors)."""


class Doors(Cohort):
    """The cohort of the rates test, written through a door chosen at random per write."""

    def __init__(self, rng: random.Random, departments: list[Department], user: Any) -> None:
        super().__init__(rng, departments)
        self.api = api_client_for(user)
        self.pages = Client()
        self.pages.force_login(user)
        self.used: Counter[str] = Counter()

    def _door(self, *doors: str) -> str:
        return self.rng.choice(("service", *doors))

    def _api(self, method: str, url: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        response = getattr(self.api, method)(url, data, format="json")
        if response.status_code == 400:
            raise Refused(response.content)
        assert response.status_code in (200, 201, 204), (method, url, response.content)
        self.used["api"] += 1
        return response.json() if response.content else {}

    def _page(self, url: str, data: dict[str, Any]) -> None:
        response = self.pages.post(url, data)
        if response.status_code == 200:  # the form again, with its errors
            raise Refused(url)
        assert response.status_code == 302, (url, response.status_code)
        self.used["page"] += 1

    def _admin(self, url: str, data: dict[str, Any]) -> None:
        response = self.pages.post(url, data)
        if response.status_code == 200:  # the admin form again, with the service's refusal
            raise Refused(url)
        assert response.status_code == 302, (url, response.status_code)
        self.used["admin"] += 1

    def _onset(self, procedure: Procedure) -> dict[str, Any]:
        kind = self.rng.choice(("during", "inside", "early", "delayed", "date"))
        if kind == "during":
            return {"during_procedure": True}
        if kind == "inside":
            return {
                "onset_at": procedure.started_at + (procedure.ended_at - procedure.started_at) / 2
            }
        if kind == "early":
            return {"onset_at": procedure.ended_at + timedelta(hours=self.rng.uniform(0.1, 23.5))}
        if kind == "delayed":
            return {
                "onset_at": procedure.ended_at + timedelta(hours=self.rng.choice((25, 30, 400)))
            }
        zone = ZoneInfo(procedure.patient.department.time_zone)
        day = procedure.ended_at.astimezone(zone).date() + timedelta(days=self.rng.randint(2, 40))
        return {"onset_date": day}

    def record(self) -> None:
        door = self._door("api", "page")
        if door == "service":
            super().record()
            self.used["service"] += 1
            return
        procedure = self.fresh(self.rng.choice(self.procedures))
        term, facts, specify = self.rng.choice(ENTRIES)
        onset = self._onset(procedure)
        fractures = self.some_fractures(procedure)
        if door == "api":
            body = {
                "procedure": procedure.pk,
                "term": term,
                "specify": specify,
                "facts": facts,
                **{k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in onset.items()},
            }
            if fractures:
                body["fractures"] = fractures
            created = self._api("post", "/api/v1/complications/", body)
            self.events.append(ComplicationEvent.objects.get(pk=created["id"]))
            return
        zone = ZoneInfo(procedure.patient.department.time_zone)
        data: dict[str, Any] = {"term": term, "specify": specify, "fractures": fractures or []}
        if "during_procedure" in onset:
            data["onset_kind"] = "during"
        elif "onset_date" in onset:
            data.update(onset_kind="date", onset_date=onset["onset_date"].isoformat())
        else:
            data.update(
                onset_kind="at", onset_at=onset["onset_at"].astimezone(zone).strftime(LOCAL_MINUTE)
            )
        for name, value in facts.items():
            data[name] = "on" if value is True else str(value)
        self._page(reverse("case-complication-add", args=[procedure.pk]), data)
        self.events.append(ComplicationEvent.objects.order_by("-pk").first())

    def update_facts(self) -> None:
        if self._door("api") == "service" or not self.events:
            super().update_facts()
            return
        term, facts, specify = self.rng.choice(ENTRIES)
        event = self.rng.choice(self.events)
        self._api(
            "patch",
            f"/api/v1/complications/{event.pk}/",
            {"term": term, "facts": facts, "specify": specify},
        )

    def respecify(self) -> None:
        event = self._event()
        if self._door("api") == "service" or event is None or not event.specify:
            super().respecify()
            return
        change = {"specify": self.rng.choice(SPECIFY_TEXTS)}
        self._api("patch", f"/api/v1/complications/{event.pk}/", change)

    def override(self) -> None:
        event = self._event()
        if self._door("api") == "service" or event is None:
            super().override()
            return
        if event.grade_override is not None and self.rng.random() < 0.3:
            change = {"grade_override": None, "override_reason": ""}
        else:
            available = [g for g, text in event.term.grades.items() if text]
            change = {"grade_override": self.rng.choice(available), "override_reason": "Reviewed."}
        self._api("patch", f"/api/v1/complications/{event.pk}/", change)

    def move(self) -> None:
        door = self._door("api", "admin")
        if door == "service":
            super().move()
            return
        procedure = self.fresh(self.rng.choice(self.procedures))
        shift = timedelta(hours=self.rng.choice((-30, -6, -1, 1, 5, 26)))
        longer = timedelta(minutes=self.rng.choice((0, 20, 600)))
        if door == "admin":
            self._admin(
                reverse("admin:registry_procedure_change", args=[procedure.pk]),
                {
                    "patient": str(procedure.patient_id),
                    **_admin_moment("started_at", procedure.started_at + shift),
                    **_admin_moment("ended_at", procedure.ended_at + shift + longer),
                    "guidance": procedure.guidance,
                    "anesthesia": procedure.anesthesia,
                    "operator": procedure.operator,
                    "reason": "Times corrected from the PACS.",
                },
            )
            return
        self._api(
            "patch",
            f"/api/v1/procedures/{procedure.pk}/",
            {
                "started_at": (procedure.started_at + shift).isoformat(),
                "ended_at": (procedure.ended_at + shift + longer).isoformat(),
            },
        )

    def contact(self) -> None:
        door = self._door("api", "page")
        if door == "service":
            super().contact()
            return
        procedure = self.fresh(self.rng.choice(self.procedures))
        contact_at = procedure.ended_at + timedelta(hours=self.rng.choice((-0.2, 2, 24.5, 72)))
        kind = self.rng.choice(("clinical", "phone", "imaging"))
        fractures = self.some_fractures(procedure)
        if door == "api":
            body = {"procedure": procedure.pk, "contact_at": contact_at.isoformat(), "kind": kind}
            if fractures:
                body["fractures"] = fractures
            self._api("post", "/api/v1/follow-ups/", body)
            return
        zone = ZoneInfo(procedure.patient.department.time_zone)
        self._page(
            reverse("case-follow-up-add", args=[procedure.pk]),
            {
                "contact_at": contact_at.astimezone(zone).strftime(LOCAL_MINUTE),
                "kind": kind,
                "fractures": fractures or list(procedure.fractures.values_list("pk", flat=True)),
            },
        )

    def delete_contact(self) -> None:
        contact = FollowUp.objects.order_by("?").first()
        if self._door("admin") == "service" or contact is None:
            super().delete_contact()
            return
        self._admin(reverse("admin:registry_followup_delete", args=[contact.pk]), {"post": "yes"})

    def retype(self) -> None:
        fracture = Fracture.objects.order_by("?").first()
        if self._door("admin") == "service" or fracture is None:
            super().retype()
            return
        self._admin(
            reverse("admin:registry_fracture_change", args=[fracture.pk]),
            {
                "procedure": str(fracture.procedure_id),
                "type": self.rng.choice(FRACTURE_TYPES),
                "site": self.rng.choice(SITES),
                "side": fracture.side,
                "aetiology": fracture.aetiology,
                "screws": str(fracture.screws),
                "reason": "Type corrected after review.",
                **({"cement_augmented": "on"} if fracture.cement_augmented else {}),
            },
        )

    def delete_event(self) -> None:
        if self._door("api") == "service" or not self.events:
            super().delete_event()
            return
        pk = self.rng.choice(self.events).pk
        self._api("delete", f"/api/v1/complications/{pk}/")
        self.events = [e for e in self.events if e.pk != pk]

    def regrade(self) -> None:
        """The Celery task, run in-process: the derived values are current, so nothing changes."""
        counts = regrade_all.apply().get()
        assert (counts["changed"], counts["failed"]) == (0, 0), counts
        self.used["celery"] += 1


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [4, 5])
def test_random_writes_through_every_door_leave_nothing_to_correct(
    seed, department, other_department, head, admin_user
):
    rng = random.Random(seed)
    cohort = Doors(rng, [department, other_department], admin_user)
    operations = [
        (cohort.record, 12),
        (cohort.update_facts, 3),
        (cohort.respecify, 2),
        (cohort.override, 3),
        (cohort.refocus, 2),
        (cohort.move, 3),
        (cohort.contact, 8),
        (cohort.delete_event, 1),
        (cohort.delete_contact, 1),
        (cohort.retype, 1),
        (cohort.add_fracture, 1),
        (cohort.rehome, 1),
        (cohort.rezone, 1),
        (cohort.regrade, 2),
    ]
    applied = refused = 0
    for _ in range(70):
        operation = rng.choices([o for o, _ in operations], [w for _, w in operations])[0]
        try:
            operation()
            applied += 1
        except (ValidationError, Refused):
            refused += 1
        differences = outcomes_differences()
        assert not any(differences.values()), (operation.__name__, differences)
    assert applied >= 40, f"only {applied} writes applied ({refused} refused)"
    assert {"api", "page", "celery", "admin"} <= set(cohort.used), cohort.used

    assert list(verify.registry_differences()) == []
    out = StringIO()
    call_command("registry_verify", stdout=out)
    assert "No difference" in out.getvalue()
    both = {department.pk, other_department.pk}
    for user, departments, filters in [
        (admin_user, both, {}),
        (head, {department.pk}, {"date_from": date(2019, 9, 2)}),
    ]:
        for unit in UNITS:
            expected = naive_rates(departments=departments, unit=unit, **filters)
            got = selector_counts(rates(user=user, unit=unit, **filters))
            assert got == expected, f"seed={seed} unit={unit} filters={filters}"
