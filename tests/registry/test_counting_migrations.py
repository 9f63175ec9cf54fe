"""The migrations that add the local start date and the all-fractures flag derive
them for a registry recorded before: the start's day in its department's time
zone, and "all the fractures" for the contacts and complications that cover
every fracture of their procedure (the services used to store that default as
the list of the fractures of the moment); ``registry_deploy`` then rebuilds the
outcome summary the migration emptied."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("registry", "0006_history_immutable"), ("complications", "0006_outcome_summary")]
AFTER = [
    ("registry", "0007_procedure_started_on_followup_all_fractures"),
    ("complications", "0007_summary_started_on_all_fractures"),
]


def migrate(targets=None):
    """Migrate to ``targets`` (None: the latest) and return the models of that state."""
    executor = MigrationExecutor(connection)
    targets = targets or executor.loader.graph.leaf_nodes()
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_the_migrations_derive_the_local_date_and_flag_the_records_that_cover_all():
    old = migrate(BEFORE)
    try:
        department = old.get_model("registry", "Department").objects.create(
            code="NY", name="New York", time_zone="America/New_York"
        )
        patient = old.get_model("registry", "Patient").objects.create(
            department=department, registry_id="R1", sex="female", birth_date=date(1950, 1, 1)
        )
        start = datetime(2020, 4, 1, 2, 0, tzinfo=UTC)  # 22:00 on 31 March in New York
        procedure = old.get_model("registry", "Procedure").objects.create(
            patient=patient,
            started_at=start,
            ended_at=start + timedelta(hours=1),
            guidance="ct",
            anesthesia="general",
        )
        bare = old.get_model("registry", "Procedure").objects.create(
            patient=patient,
            started_at=start + timedelta(days=9),
            ended_at=start + timedelta(days=9, hours=1),
            guidance="ct",
            anesthesia="general",
        )
        fracture = old.get_model("registry", "Fracture")
        sacrum = fracture.objects.create(
            procedure=procedure, type="insufficiency", site="sacrum", side="left"
        )
        iliac = fracture.objects.create(
            procedure=procedure, type="insufficiency", site="iliac", side="left"
        )
        follow_up = old.get_model("registry", "FollowUp")
        contacts = {}
        for name, procedure_of, covered in [
            ("every", procedure, [sacrum, iliac]),
            ("one", procedure, [sacrum]),
            ("before_any_fracture", bare, []),
        ]:
            contacts[name] = follow_up.objects.create(
                procedure=procedure_of, contact_at=start + timedelta(days=20), kind="phone"
            )
            contacts[name].fractures.set(covered)
        term, _ = old.get_model("complications", "CtcaeTerm").objects.get_or_create(
            code="10048038", defaults={"name": "Wound infection", "soc": "Infections"}
        )
        event = old.get_model("complications", "ComplicationEvent")
        events = {}
        for name, covered in [("every", [sacrum, iliac]), ("one", [iliac])]:
            events[name] = event.objects.create(
                procedure=procedure,
                term=term,
                onset_at=start + timedelta(days=3),
                auto_grade=2,
                window="delayed",
            )
            events[name].fractures.set(covered)

        new = migrate(AFTER)
        # What a release runs after migrate (with the release's code, so to the latest
        # migration): the migrations leave the summary empty.
        migrate()
        call_command("registry_deploy", no_regrade=True, stdout=io.StringIO())

        assert new.get_model("registry", "Procedure").objects.get(
            pk=procedure.pk
        ).started_on == date(2020, 3, 31)
        flags = dict(
            new.get_model("registry", "FollowUp").objects.values_list("pk", "all_fractures")
        )
        assert {name: flags[c.pk] for name, c in contacts.items()} == {
            "every": True,
            "one": False,
            "before_any_fracture": True,
        }
        flags = dict(
            new.get_model("complications", "ComplicationEvent").objects.values_list(
                "pk", "all_fractures"
            )
        )
        assert {name: flags[e.pk] for name, e in events.items()} == {"every": True, "one": False}
        summary = new.get_model("complications", "FractureOutcome").objects.values_list(
            "started_on", flat=True
        )
        assert set(summary) == {date(2020, 3, 31)}
    finally:
        migrate()
