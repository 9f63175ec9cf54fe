"""``registry_deploy``, run after every migrate: the release's curated catalogue, and the
outcome summary rebuilt when a fracture lacks its row (a migration that reshapes the summary
empties it), both idempotent."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from complications.ctcae import load_curated_catalogue
from complications.models import CtcaeTerm, FractureOutcome
from complications.outcomes.check import outcomes_differences
from tests import factories as f


def deploy(*args: str) -> str:
    out = io.StringIO()
    call_command("registry_deploy", *args, "--no-regrade", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_a_second_deploy_changes_no_term_and_rebuilds_nothing(department):
    f.fracture(f.procedure(f.patient(department)))
    out = deploy()
    curated = len(load_curated_catalogue())
    assert f"{curated} terms read from the curated catalogue: 0 created, 0 updated" in out
    assert "not rebuilt" in out


@pytest.mark.django_db
def test_it_brings_the_stored_terms_to_the_releases_curated_catalogue():
    code, term = next(iter(load_curated_catalogue().items()))
    CtcaeTerm.objects.filter(code=code).update(grade_1="an older text")
    deploy()
    assert CtcaeTerm.objects.get(code=code).grade_1 == term.grades[1]


@pytest.mark.django_db
def test_it_rebuilds_the_summary_a_migration_emptied(department):
    proc = f.procedure(f.patient(department))
    f.fracture(proc)
    f.complication(proc, window="early", grade=2)
    FractureOutcome.objects.all().delete()

    out = deploy()

    assert "Rebuilt the outcome summary: FractureOutcome 1" in out
    assert FractureOutcome.objects.get().grade_early == 2
    assert not any(outcomes_differences().values())


@pytest.mark.django_db
def test_it_rebuilds_a_complete_summary_only_when_asked(department):
    f.fracture(f.procedure(f.patient(department)))
    assert "Rebuilt the outcome summary" in deploy("--rebuild-summary")
