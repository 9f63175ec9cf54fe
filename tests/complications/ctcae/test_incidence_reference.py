"""The Aalen-Johansen estimator against an independent implementation: scikit-survival's
``cumulative_incidence_competing_risks`` (a test dependency), on random cohorts with ties,
censoring and competing deaths, to 1e-9."""

from __future__ import annotations

import numpy as np
import pytest
from sksurv.nonparametric import cumulative_incidence_competing_risks

from complications.ctcae.incidence import COMPETING, EVENT, aalen_johansen

SEEDS = range(40)


def _cohort(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    size = int(rng.integers(5, 400))
    # Whole and half days (many ties), a few at 0, every kind at every time.
    times = rng.integers(0, 60, size) / 2.0 * rng.choice([1.0, 7.0], size)
    kinds = rng.choice([0, 1, 2], size, p=rng.dirichlet([1.0, 1.0, 1.0]))
    # scikit-survival assumes each risk occurs at least once.
    kinds[0], kinds[-1] = EVENT, COMPETING
    return times, kinds


@pytest.mark.parametrize("seed", SEEDS)
def test_equals_scikit_survival(seed: int) -> None:
    times, kinds = _cohort(seed)
    ours = aalen_johansen(times, kinds)
    x, cif, ci = cumulative_incidence_competing_risks(kinds, times, conf_type="log-log")
    # The reference reports every distinct time; ours the event and competing-event ones.
    keep = np.isin(x, ours.times)
    assert np.array_equal(x[keep], ours.times)
    np.testing.assert_allclose(ours.cif, cif[1][keep], rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.low, ci[1, 0][keep], rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.high, ci[1, 1][keep], rtol=0, atol=1e-9)
    # Between event times the curve is flat: the reference's censoring-only points agree.
    for day, value in zip(x, cif[1], strict=True):
        assert ours.at(day)[0] == pytest.approx(value, abs=1e-9)
    assert ours.units == times.size
    assert ours.events + ours.competing + ours.censored == times.size
