"""The counting rules of the cumulative incidence, one row per boundary (docs/domain.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from complications.ctcae.incidence import (
    CENSORED,
    COMPETING,
    EVENT,
    aalen_johansen,
    at_noon,
    unit_time,
)

END = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)


def days(n: float) -> datetime:
    return END + timedelta(days=n)


@pytest.mark.parametrize(
    ("event", "death", "evidence", "expected"),
    [
        # time origin: the procedure end; time in days (hours / 24)
        (days(1.5), None, [], (1.5, EVENT)),
        (END + timedelta(hours=30), None, [], (1.25, EVENT)),
        # an event at or before the death is the event; a death first is the competing event
        (days(10), days(10), [], (10.0, EVENT)),
        (days(10), days(9.5), [], (9.5, COMPETING)),
        (
            None,
            days(20),
            [days(30)],
            (20.0, COMPETING),
        ),  # death ends follow-up, even after a contact
        # censoring at the last evidence, whichever is latest
        (None, None, [days(3), days(40), None, days(12)], (40.0, CENSORED)),
        (None, None, [], (0.0, CENSORED)),  # no evidence: censored at 0
        (None, None, [None], (0.0, CENSORED)),
        # before the end (a contact during the procedure, a death the same morning): 0
        (None, None, [END - timedelta(minutes=30)], (0.0, CENSORED)),
        (None, END - timedelta(hours=2), [], (0.0, COMPETING)),
    ],
)
def test_unit_time(event, death, evidence, expected) -> None:
    assert unit_time(end=END, event_at=event, death_at=death, evidence=evidence) == expected


@pytest.mark.parametrize(
    ("day", "zone", "utc"),
    [
        (date(2024, 1, 15), "Europe/Paris", datetime(2024, 1, 15, 11, 0, tzinfo=UTC)),  # CET
        (date(2024, 7, 15), "Europe/Paris", datetime(2024, 7, 15, 10, 0, tzinfo=UTC)),  # CEST
        (date(2024, 7, 15), "America/Cayenne", datetime(2024, 7, 15, 15, 0, tzinfo=UTC)),
        (date(2024, 7, 15), "Pacific/Noumea", datetime(2024, 7, 15, 1, 0, tzinfo=UTC)),
    ],
)
def test_dates_count_at_noon_local(day, zone, utc) -> None:
    assert at_noon(day, zone) == utc


def test_ties_events_and_competing_counted_together_censored_leave_after() -> None:
    # 5 units; at day 2: one event, one death and one censored unit, all at risk at day 2.
    result = aalen_johansen([2, 2, 2, 5, 7], [EVENT, COMPETING, CENSORED, EVENT, CENSORED])
    assert list(result.times) == [2.0, 5.0]
    assert list(result.at_risk) == [5, 2]
    # F(2) = 1/5; S(2) = 3/5; F(5) = 1/5 + 3/5 * 1/2
    assert result.cif[0] == pytest.approx(0.2, abs=1e-15)
    assert result.cif[1] == pytest.approx(0.5, abs=1e-15)
    # the estimate at a day: the last value at or before it; at risk just after it
    assert result.at(1.9)[0] == 0.0 and result.at(1.9)[3] == 5
    assert result.at(2)[0] == pytest.approx(0.2) and result.at(2)[3] == 2
    assert result.at(30)[0] == pytest.approx(0.5) and result.at(30)[3] == 0
    assert (result.units, result.events, result.competing, result.censored) == (5, 2, 1, 2)


def test_not_one_minus_kaplan_meier() -> None:
    # Deaths are not censored: with every unit dying or having the event, the incidence
    # is the share of events (1 - KM treating deaths as censored would give more).
    result = aalen_johansen([1, 2, 3, 4], [COMPETING, EVENT, COMPETING, EVENT])
    assert result.cif[-1] == pytest.approx(0.5)


def test_band_contains_estimate_and_stays_in_unit_interval() -> None:
    rng = np.random.default_rng(1)
    result = aalen_johansen(rng.integers(0, 50, 300), rng.choice([0, 1, 2], 300))
    assert np.all(result.low <= result.cif + 1e-12)
    assert np.all(result.cif <= result.high + 1e-12)
    assert np.all((result.low >= 0) & (result.high <= 1))


def test_empty_and_all_censored() -> None:
    assert aalen_johansen([], []).times.size == 0
    result = aalen_johansen([1.0, 3.0], [CENSORED, CENSORED])
    assert result.at(365) == (0.0, 0.0, 0.0, 0)


@pytest.mark.parametrize(
    ("times", "kinds"),
    [([1.0], [3]), ([-1.0], [1]), ([float("nan")], [1]), ([1.0, 2.0], [1])],
)
def test_bad_input_refused(times, kinds) -> None:
    with pytest.raises(ValueError):
        aalen_johansen(times, kinds)
