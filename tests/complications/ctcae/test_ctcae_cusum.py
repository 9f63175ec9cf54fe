"""The Bernoulli CUSUM: weights, the series, crossings at the limit's boundary."""

from __future__ import annotations

import math

import pytest

from complications.ctcae.cusum import alternative_rate, bernoulli_cusum, weights

# p0 = 0.5 and OR = 3: p1 = 0.75, a failure weighs ln 1.5, a success ln 0.5.
W_FAIL = math.log(1.5)
W_SUCCESS = math.log(0.5)


@pytest.mark.parametrize(
    ("p0", "odds_ratio", "p1"),
    [
        (0.5, 3.0, 0.75),
        (0.1, 2.0, 0.2 / 1.1),
        (0.05, 2.0, 0.1 / 1.05),
        (0.2, 1.5, 0.3 / 1.1),
    ],
)
def test_the_alternative_rate_has_the_odds_ratio(p0, odds_ratio, p1):
    assert alternative_rate(p0, odds_ratio) == pytest.approx(p1)
    odds = lambda p: p / (1 - p)  # noqa: E731
    assert odds(alternative_rate(p0, odds_ratio)) / odds(p0) == pytest.approx(odds_ratio)


def test_the_weights_are_the_log_likelihood_ratios():
    assert weights(0.5, 3.0) == pytest.approx((W_FAIL, W_SUCCESS))
    # The form quoted by Steiner et al.: ln(OR) - ln(1 - p0 + OR p0) and -ln(1 - p0 + OR p0).
    p0, odds_ratio = 0.07, 2.0
    w_fail, w_success = weights(p0, odds_ratio)
    assert w_fail == pytest.approx(math.log(odds_ratio) - math.log(1 - p0 + odds_ratio * p0))
    assert w_success == pytest.approx(-math.log(1 - p0 + odds_ratio * p0))


@pytest.mark.parametrize(
    ("outcomes", "limit", "series", "crossings"),
    [
        # nothing happened: the chart stays at 0
        ([], 1.0, [], []),
        ([0, 0, 0], 1.0, [0.0, 0.0, 0.0], []),
        # a success after a failure: S never goes below 0
        ([1, 0, 0], 10.0, [W_FAIL, 0.0, 0.0], []),
        # exactly at the limit after two failures: a signal (S >= h)
        ([1, 1], 2 * W_FAIL, [W_FAIL, 2 * W_FAIL], [1]),
        # just above that limit: no signal
        ([1, 1], math.nextafter(2 * W_FAIL, math.inf), [W_FAIL, 2 * W_FAIL], []),
        # a run above the limit is one crossing; going below then back is a second one
        (
            [1, 1, 1, 0, 1],
            2 * W_FAIL,
            [W_FAIL, 2 * W_FAIL, 3 * W_FAIL, 3 * W_FAIL + W_SUCCESS, 4 * W_FAIL + W_SUCCESS],
            [1, 4],
        ),
        # the first case can cross a small limit
        ([1], W_FAIL, [W_FAIL], [0]),
        ([True, False], W_FAIL / 2, [W_FAIL, 0.0], [0]),
    ],
)
def test_the_series_and_its_crossings(outcomes, limit, series, crossings):
    result = bernoulli_cusum(outcomes, p0=0.5, odds_ratio=3.0, limit=limit)
    assert result.series == pytest.approx(series)
    assert result.crossings == crossings
    assert result.first_crossing == (crossings[0] if crossings else None)
    assert result.signalling == bool(series and series[-1] >= limit)


def test_the_defaults_signal_a_doubled_rate_and_not_the_target():
    p0 = 0.1
    on_target = [1 if i % 10 == 0 else 0 for i in range(500)]
    doubled = [1 if i % 5 == 0 else 0 for i in range(500)]
    assert bernoulli_cusum(on_target, p0=p0).crossings == []
    result = bernoulli_cusum(doubled, p0=p0)
    assert result.limit == 4.0 and result.first_crossing is not None
    assert result.first_crossing < 200


@pytest.mark.parametrize(
    ("p0", "odds_ratio", "limit"),
    [(0.0, 2.0, 4.0), (1.0, 2.0, 4.0), (-0.1, 2.0, 4.0), (0.1, 1.0, 4.0), (0.1, 0.5, 4.0),
     (0.1, 2.0, 0.0), (0.1, 2.0, -1.0)],
)  # fmt: skip
def test_invalid_parameters_are_refused(p0, odds_ratio, limit):
    with pytest.raises(ValueError):
        bernoulli_cusum([1], p0=p0, odds_ratio=odds_ratio, limit=limit)
