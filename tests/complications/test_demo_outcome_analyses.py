"""The demo cohort's vital statuses, and the three analyses on it."""

from __future__ import annotations

import pytest
from django.utils import timezone

from complications.analysis.funnel import funnel
from complications.analysis.incidence import cumulative_incidence
from complications.analysis.risk import risk_adjusted
from complications.demo import build_cohort
from complications.quality import vital_status_problems
from registry.models import Department, Fracture, Patient, Procedure


@pytest.mark.django_db
def test_the_demo_has_plausible_vital_statuses_and_answers_the_three_analyses(admin_user):
    build_cohort(Department.objects.create(code="DEMO", name="Demo", time_zone="Europe/Paris"))
    dead = Patient.objects.filter(death_date__isnull=False)
    assert 5 <= dead.count() <= 30
    # deaths only among patients with a pathological fracture, none in the future
    pathological = set(
        Fracture.objects.filter(type="pathological").values_list("procedure__patient_id", flat=True)
    )
    assert set(dead.values_list("pk", flat=True)) <= pathological
    assert max(dead.values_list("death_date", flat=True)) <= timezone.localdate()
    # every follow-up of a dead patient is closed by the death, and no other is
    statuses = set(Procedure.objects.values_list("follow_up_status", flat=True))
    assert statuses == {"open", "completed", "lost", "deceased"}
    assert vital_status_problems(user=admin_user) == {
        "deaths_without_closing_status": [],
        "deceased_without_death_date": [],
    }
    incidence = cumulative_incidence(user=admin_user)
    assert incidence["competing"] > 0 and incidence["events"] > 0
    assert incidence["units"] == Fracture.objects.count()
    assert 0 < incidence["at"]["365"]["cif"] < 1
    plot = funnel(user=admin_user)
    assert [row["label"] for row in plot["departments"]] == ["DEMO"]
    assert plot["departments"][0]["position"] == "within"  # one department: the registry
    adjusted = risk_adjusted(user=admin_user)
    assert adjusted["model"]["enough_events"] is False  # too few major complications
    assert adjusted["message"]
