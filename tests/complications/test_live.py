"""The live-dashboard version lives in the database: it moves with every committed write,
whatever the cache does, and cached rates are found only through it."""

from datetime import date

import pytest
from django.core.cache import cache
from django.db import transaction

from complications import live
from complications.models import StatsChange
from complications.stats.rates import rates as recomputed_rates
from registry.services import patient_create
from tests import factories as f


def test_a_bump_moves_the_version_forward(db):
    before = live.stats_version()
    live.bump_stats_version()
    assert live.stats_version() == before + 1


def test_a_bump_rolled_back_with_its_write_leaves_the_version(db):
    before = live.stats_version()
    with pytest.raises(RuntimeError), transaction.atomic():
        live.bump_stats_version()
        raise RuntimeError("the write failed")
    assert live.stats_version() == before


def test_a_write_moves_the_version_even_with_the_cache_down(db, radiologist, monkeypatch):
    """The write's own transaction moves it: the cache is never asked."""

    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    for method in ("get", "set", "add", "incr"):
        monkeypatch.setattr(cache, method, broken)
    before = live.stats_version()
    patient_create(
        department=radiologist.departments.get(),
        registry_id="P-1",
        sex="female",
        birth_date=date(1950, 1, 1),
    )
    assert live.stats_version() == before + 1


def test_the_version_starts_above_any_an_earlier_database_reached(db):
    """An emptied table starts again from the clock, never from 0."""
    StatsChange.objects.all().delete()
    assert live.stats_version() > 1_700_000_000_000


def test_compaction_keeps_the_version(db):
    for _ in range(5):
        live.bump_stats_version()
    before = live.stats_version()
    assert live.stats_changes_compact() >= 6
    assert StatsChange.objects.count() == 1
    assert live.stats_version() == before
    assert live.stats_changes_compact() == 0


@pytest.mark.django_db
class TestCachedRates:
    def _build(self, department):
        """A complication as the services record it: rows, summary, version."""
        procedure = f.procedure(f.patient(department))
        f.fracture(procedure)
        f.follow_up(procedure, hours_after_end=48)
        f.complication(procedure, window="early", grade=2)
        live.bump_stats_version()

    def test_rates_are_cached_under_the_version_and_refreshed_by_a_write(self, head, department):
        self._build(department)
        first = live.cached_rates(user=head)
        assert first == recomputed_rates(user=head)
        self._build(department)
        assert live.cached_rates(user=head) == recomputed_rates(user=head) != first

    def test_an_entry_from_an_older_version_is_never_served(self, head, department):
        """What a cache restarted with its old data holds: entries keyed by old versions."""
        self._build(department)
        stale = live.cached_rates(user=head)
        keys_before = set(cache._cache.keys())  # type: ignore[attr-defined]  (LocMemCache)
        self._build(department)  # while the cache misses the bump: nothing in it moved
        assert set(cache._cache.keys()) == keys_before  # type: ignore[attr-defined]
        assert live.cached_rates(user=head) != stale
        assert live.cached_rates(user=head) == recomputed_rates(user=head)

    def test_with_the_cache_down_rates_are_computed_from_the_database(
        self, head, department, monkeypatch, caplog
    ):
        def broken(*args, **kwargs):
            raise ConnectionError("cache down")

        monkeypatch.setattr(cache, "get", broken)
        monkeypatch.setattr(cache, "set", broken)
        self._build(department)
        assert live.cached_rates(user=head) == recomputed_rates(user=head)
        assert "computing from the database" in caplog.text


@pytest.mark.django_db
def test_a_cached_breakdown_is_in_the_readers_language(head, department):
    from django.utils import translation

    proc = f.procedure(f.patient(department))
    f.fracture(proc)
    with translation.override("en"):
        english = live.cached_breakdown(user=head)
    with translation.override("fr"):
        french = live.cached_breakdown(user=head)
    assert english["by_fracture_type"][0]["label"] != french["by_fracture_type"][0]["label"]
