"""The outcome summary the rates read: rebuilt and checked by command, exact under
concurrent writers. (That every write keeps it equal to a recomputation is
tests/complications/test_rates_match_recomputation.py.)"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from complications.models import ComplicationEvent, FractureOutcome, OutcomeMonth
from complications.outcomes import refresh
from complications.outcomes.check import outcomes_differences
from complications.outcomes.layout import mask_bits
from complications.stats.rates import rates
from registry import services as registry_services
from registry.models import FractureType, Site
from tests import factories as f

PARIS = f.PARIS
# Real terms of the curated catalogue, with facts that grade them (pain; fever).
FACTS = {"10033371": {"symptoms": "mild"}, "10016558": {"temperature_c": 38.5}}


@pytest.mark.parametrize(
    ("fracture_type", "site", "bits"),
    [
        (None, None, len(FractureType.values) * len(Site.values)),
        ("insufficiency", None, len(Site.values)),
        ("impending", None, len(Site.values)),
        (None, "sacrum", len(FractureType.values)),
        (None, "other", len(FractureType.values)),
        ("pathological", "femoral_neck", 1),
    ],
)
def test_mask_bits_stand_for_the_matching_type_and_site_pairs(fracture_type, site, bits):
    assert bin(mask_bits(fracture_type=fracture_type, site=site)).count("1") == bits


def test_a_type_and_a_site_share_exactly_one_bit():
    for t in FractureType.values:
        for s in Site.values:
            both = mask_bits(fracture_type=t, site=s)
            assert both == mask_bits(fracture_type=t) & mask_bits(site=s)


@pytest.mark.django_db
def test_the_check_finds_a_write_that_bypassed_the_services_and_the_rebuild_mends_it(
    department, capsys
):
    proc = f.procedure(f.patient(department))
    f.fracture(proc)
    event = f.complication(proc, window="early", grade=2)
    call_command("outcomes_rebuild", "--check")
    assert "equals a recomputation" in capsys.readouterr().out

    # A queryset update runs no service: the summary still says grade 2.
    ComplicationEvent.objects.filter(pk=event.pk).update(auto_grade=4)
    with pytest.raises(CommandError, match="differs from a recomputation"):
        call_command("outcomes_rebuild", "--check")
    assert "grade_early" in capsys.readouterr().err

    call_command("outcomes_rebuild")
    assert "Rebuilt the outcome summary: FractureOutcome 1" in capsys.readouterr().out
    call_command("outcomes_rebuild", "--check")
    assert FractureOutcome.objects.get().grade_early == 4
    assert not any(outcomes_differences().values())


@pytest.mark.django_db
def test_deleting_a_procedure_takes_it_out_of_its_months_rollup(department, admin_user):
    proc = f.procedure(f.patient(department), started_at=datetime(2021, 3, 9, 9, tzinfo=PARIS))
    f.fracture(proc)
    other = f.procedure(f.patient(department), started_at=datetime(2021, 3, 20, 9, tzinfo=PARIS))
    f.fracture(other)
    assert OutcomeMonth.objects.get(period="month", unit="fracture").units == 2

    registry_services.record_delete(record=proc, reason="Entered in the wrong registry.")

    assert OutcomeMonth.objects.get(period="month", unit="fracture").units == 1
    assert OutcomeMonth.objects.get(period="year", unit="fracture").units == 1
    assert rates(user=admin_user)["windows"]["per_procedural"]["at_risk"] == 1
    assert not any(outcomes_differences().values())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_writes_to_one_procedure_and_one_month_both_count(
    department, admin_user, monkeypatch
):
    """Two complications recorded at the same moment on one procedure, and a third on
    another procedure of the same month: each transaction refreshes the summary
    rows and the month's rollup before the others commit. The refresh is slowed
    so that all three have written their complication before any refreshes;
    without the row and advisory locks the second would miss the first's rows
    (a duplicate key, or a stale month)."""
    from django.db import connection

    from complications import services as complication_services

    start = datetime(2022, 5, 10, 9, tzinfo=PARIS)
    proc = f.procedure(f.patient(department), started_at=start)
    f.fracture(proc)
    f.fracture(proc, site="acetabulum")
    neighbour = f.procedure(f.patient(department), started_at=start + timedelta(days=3))
    f.fracture(neighbour)
    real_refresh = refresh.outcomes_refresh

    def slow_refresh(**kwargs):
        time.sleep(0.5)
        return real_refresh(**kwargs)

    monkeypatch.setattr(complication_services, "outcomes_refresh", slow_refresh)
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def record(procedure_id: int, term: str) -> None:
        try:
            from registry.models import Procedure

            procedure = Procedure.objects.select_related("patient__department").get(pk=procedure_id)
            barrier.wait()
            complication_services.complication_record(
                procedure=procedure, term=term, facts=FACTS[term], during_procedure=True
            )
        except BaseException as exc:  # reported below, with the thread's traceback lost
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=record, args=(proc.pk, "10033371")),
        threading.Thread(target=record, args=(proc.pk, "10016558")),
        threading.Thread(target=record, args=(neighbour.pk, "10033371")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert ComplicationEvent.objects.count() == 3
    assert not any(outcomes_differences().values()), outcomes_differences()
    windows = rates(user=admin_user)["windows"]["per_procedural"]
    assert (windows["events"], windows["at_risk"]) == (3, 3)


@pytest.mark.django_db
def test_a_deferred_batch_refreshes_the_summary_once_at_its_end(department, admin_user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as batch, refresh.outcomes_deferred():
        for day in (3, 10, 17):
            proc = f.procedure(
                f.patient(department), started_at=datetime(2023, 4, day, 9, tzinfo=PARIS)
            )
            f.fracture(proc)
            f.follow_up(proc, hours_after_end=30)
        # Inside the block the summary waits for the end.
        assert FractureOutcome.objects.count() == 0

    # (On PostgreSQL a refresh's statements travel together, in one query.)
    into = 'INSERT INTO "complications_fractureoutcome" ('
    assert sum(q["sql"].count(into) for q in batch.captured_queries) == 1
    assert FractureOutcome.objects.count() == 3
    assert rates(user=admin_user)["windows"]["delayed"]["at_risk"] == 3
    assert not any(outcomes_differences().values())


@pytest.mark.django_db
def test_a_failed_deferred_batch_leaves_nothing_behind(department):
    with pytest.raises(RuntimeError), refresh.outcomes_deferred():
        f.fracture(f.procedure(f.patient(department)))
        raise RuntimeError("the import stops half-way")
    assert FractureOutcome.objects.count() == 0
    assert not any(outcomes_differences().values())
