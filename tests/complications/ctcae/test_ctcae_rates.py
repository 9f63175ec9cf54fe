"""Rates as the reports print them: proportion, one-decimal percentage, Wilson 95 % interval."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from complications.ctcae import percent, proportion, rate_summary, wilson_interval


@pytest.mark.parametrize(
    ("events", "n", "expected"),
    [
        (3, 110, 2.7),
        (4, 110, 3.6),
        (14, 79, 17.7),
        (79, 110, 71.8),
        (69, 94, 73.4),
        (40, 110, 36.4),
        (53, 110, 48.2),
        (17, 110, 15.5),
        (3, 79, 3.8),
        (1, 8, 12.5),
        (1, 16, 6.3),  # half-up: round(6.25, 1) would give 6.2
        (1, 80, 1.3),  # 1.25
        (0, 110, 0.0),
        (110, 110, 100.0),
        (0, 0, 0.0),
    ],
)
def test_percentages_have_one_decimal_rounded_half_up(events: int, n: int, expected: float) -> None:
    assert percent(events, n) == expected


def test_proportions_have_five_decimals() -> None:
    assert proportion(3, 110) == 0.02727
    assert proportion(53, 110) == 0.48182
    assert proportion(1, 3) == 0.33333
    assert proportion(2, 3) == 0.66667
    assert proportion(0, 0) == 0.0


@pytest.mark.parametrize(
    ("events", "n", "low", "high"),
    [
        # Newcombe, Statistics in Medicine 1998;17:857-872, table I (Wilson score method)
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
        # the reference study's rates
        (3, 110, 0.0093, 0.0771),
        (14, 79, 0.1086, 0.2758),
    ],
)
def test_the_wilson_interval_matches_published_values(
    events: int, n: int, low: float, high: float
) -> None:
    assert rate_summary(events, n)["ci95"] == [low, high]
    computed_low, computed_high = wilson_interval(events, n)
    assert computed_low == pytest.approx(low, abs=5e-5)
    assert computed_high == pytest.approx(high, abs=5e-5)


def test_the_summary_block_matches_the_api_contract() -> None:
    assert rate_summary(3, 110) == {
        "events": 3,
        "at_risk": 110,
        "rate": 0.02727,
        "percent": 2.7,
        "ci95": [0.0093, 0.0771],
    }


def test_an_interval_with_nobody_at_risk_is_the_whole_range() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert rate_summary(0, 0) == {
        "events": 0, "at_risk": 0, "rate": 0.0, "percent": 0.0, "ci95": [0.0, 1.0],
    }  # fmt: skip


def test_the_interval_touches_0_and_1_exactly_at_the_extremes() -> None:
    assert wilson_interval(0, 37)[0] == 0.0
    assert wilson_interval(37, 37)[1] == 1.0


@pytest.mark.parametrize(
    ("events", "n", "message"),
    [
        (4, 3, "cannot exceed"),
        (-1, 3, "events must be 0 or more"),
        (1, -3, "n must be 0 or more"),
        (1.0, 3, "events must be a whole number"),
        (True, 3, "events must be a whole number"),
    ],
)
def test_it_refuses_impossible_counts(events: int, n: int, message: str) -> None:
    for function in (wilson_interval, percent, proportion, rate_summary):
        with pytest.raises(ValueError, match=message):
            function(events, n)


@given(n=st.integers(min_value=1, max_value=5000), data=st.data())
def test_the_interval_contains_the_proportion_and_stays_in_0_1(n: int, data: st.DataObject) -> None:
    events = data.draw(st.integers(min_value=0, max_value=n))
    low, high = wilson_interval(events, n)
    assert 0.0 <= low <= events / n <= high <= 1.0
    assert high - low > 0


@given(n=st.integers(min_value=1, max_value=2000), data=st.data())
def test_the_interval_is_symmetric_between_events_and_non_events(
    n: int, data: st.DataObject
) -> None:
    events = data.draw(st.integers(min_value=0, max_value=n))
    low, high = wilson_interval(events, n)
    mirror_low, mirror_high = wilson_interval(n - events, n)
    assert low == pytest.approx(1 - mirror_high, abs=1e-12)
    assert high == pytest.approx(1 - mirror_low, abs=1e-12)
