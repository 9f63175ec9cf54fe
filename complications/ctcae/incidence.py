"""Cumulative incidence with a competing risk: the Aalen-Johansen estimator.

The counting rules (docs/domain.md, "Cumulative incidence") turn each unit into
one time in days after the procedure end and one kind: ``EVENT`` (its first
complication in the window at or above the severity), ``COMPETING`` (the
patient's death before any event) or ``CENSORED`` (its last evidence of
follow-up). ``unit_time`` applies them; ``aalen_johansen`` estimates.

Estimator, at each distinct time t_j with n_j units at risk (time >= t_j),
d1_j events and d2_j competing events (ties counted together; units censored
at t_j are still at risk at t_j and leave after it)::

    S(t_j)  = S(t_{j-1}) * (1 - (d1_j + d2_j) / n_j)       all-cause Kaplan-Meier
    F(t_j)  = F(t_{j-1}) + S(t_{j-1}) * d1_j / n_j          cumulative incidence

Variance: Aalen's estimator (Aalen 1978; Pintilie, *Competing Risks*, 2006,
eq. 4.5, as scikit-survival's ``var_type="Aalen"``). Confidence band: pointwise,
on the log(-log) scale, ``F ** exp(+-z * sd / (F * log F))``, which keeps the
band inside (0, 1). Written with numpy, in O(n log n) (one sort, cumulative sums).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from statistics import NormalDist
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

CENSORED = 0
EVENT = 1
COMPETING = 2

# The days the dashboard, the API, the exports and the Results paragraph report.
LANDMARK_DAYS: tuple[int, ...] = (30, 90, 180, 365)
# A date without a time counts at noon, local time, of that day.
NOON = time(12, 0)

Float = npt.NDArray[np.float64]
Int = npt.NDArray[np.int64]


def at_noon(day: date, time_zone: str) -> datetime:
    """A date without a time as an instant: 12:00 local time of that day."""
    return datetime.combine(day, NOON, tzinfo=ZoneInfo(time_zone))


def _days(instant: datetime, origin: datetime) -> float:
    return (instant - origin) / timedelta(hours=1) / 24


def unit_time(
    *,
    end: datetime,
    event_at: datetime | None,
    death_at: datetime | None,
    evidence: Iterable[datetime | None],
) -> tuple[float, int]:
    """One unit's time (days after the procedure end, never negative) and kind.

    - ``event_at``: the onset of the unit's first complication in the window at or
      above the severity; it counts when it is not after the death;
    - ``death_at``: the patient's death (a recorded death ends follow-up there,
      even after the last contact): the competing event when no event came first;
    - otherwise censored at the latest ``evidence`` (contacts, complication onsets,
      the closing day of a completed or lost follow-up), at 0 with none.
    """
    if event_at is not None and (death_at is None or event_at <= death_at):
        return max(0.0, _days(event_at, end)), EVENT
    if death_at is not None:
        return max(0.0, _days(death_at, end)), COMPETING
    seen = [instant for instant in evidence if instant is not None]
    return (max(0.0, _days(max(seen), end)) if seen else 0.0), CENSORED


@dataclass(frozen=True)
class CumulativeIncidence:
    """The estimate at each distinct event or competing-event time."""

    units: int
    events: int
    competing: int
    censored: int
    times: Float  # days
    cif: Float
    low: Float
    high: Float
    at_risk: Int  # just before each time (units with time >= t)
    _sorted_times: Float  # every unit's time, ascending (for the numbers at risk)

    def at_risk_after(self, day: float) -> int:
        """Units still at risk just after ``day`` (time > day)."""
        return int(self._sorted_times.size - np.searchsorted(self._sorted_times, day, "right"))

    def at(self, day: float) -> tuple[float, float, float, int]:
        """The estimate at ``day``: the last value at or before it (0 before the first
        event), its band, and the units at risk just after it."""
        index = int(np.searchsorted(self.times, day, "right")) - 1
        if index < 0:
            return 0.0, 0.0, 0.0, self.at_risk_after(day)
        return (
            float(self.cif[index]),
            float(self.low[index]),
            float(self.high[index]),
            self.at_risk_after(day),
        )


def _log_log_band(cif: Float, variance: Float, z: float) -> tuple[Float, Float]:
    eps = float(np.finfo(np.float64).eps)
    sd = np.sqrt(np.clip(variance, 0.0, None))
    sigma = np.divide(sd, cif, out=np.zeros_like(cif), where=variance > eps)
    inside = cif > eps
    log_f = np.log(cif, out=np.zeros_like(cif), where=inside)
    theta = np.divide(sigma, log_f, out=np.zeros_like(cif), where=log_f < -eps)
    low = np.exp(np.exp(-z * theta) * log_f)
    high = np.exp(np.exp(z * theta) * log_f)
    low[~inside] = 0.0
    high[~inside] = 0.0
    return low, high


def aalen_johansen(
    times: Sequence[float] | Float, kinds: Sequence[int] | Int, *, confidence: float = 0.95
) -> CumulativeIncidence:
    """The cumulative incidence of ``EVENT`` with ``COMPETING`` as the competing risk."""
    t = np.asarray(times, dtype=np.float64)
    k = np.asarray(kinds, dtype=np.int64)
    if t.shape != k.shape or t.ndim != 1:
        raise ValueError("times and kinds must be two sequences of the same length")
    if t.size and (np.any(t < 0) or not np.all(np.isfinite(t))):
        raise ValueError("times must be finite and not negative")
    if np.any((k != CENSORED) & (k != EVENT) & (k != COMPETING)):
        raise ValueError("kinds are 0 (censored), 1 (event) or 2 (competing)")
    order = np.argsort(t, kind="mergesort")
    t, k = t[order], k[order]
    counts = {
        "units": int(t.size),
        "events": int(np.sum(k == EVENT)),
        "competing": int(np.sum(k == COMPETING)),
        "censored": int(np.sum(k == CENSORED)),
    }
    uniq, first = np.unique(t, return_index=True)
    n = (t.size - first).astype(np.float64)  # at risk: time >= t_j
    d1 = np.add.reduceat((k == EVENT).astype(np.float64), first) if t.size else np.zeros(0)
    d2 = np.add.reduceat((k == COMPETING).astype(np.float64), first) if t.size else np.zeros(0)
    d = d1 + d2
    keep = d > 0
    uniq, n, d1, d2, d = uniq[keep], n[keep], d1[keep], d2[keep], d[keep]

    survival = np.cumprod(1.0 - d / n)
    before = np.concatenate(([1.0], survival[:-1]))
    cif = np.cumsum(before * d1 / n)

    # Aalen's variance, Pintilie eq. 4.5, with the sums over k <= j expanded into cumulative
    # sums: sum (F_j - F_k)^2 a_k = F_j^2 A_j - 2 F_j B_j + C_j (A, B, C cumulative sums).
    den_a = (n - 1.0) * (n - d)
    a = np.divide(d, den_a, out=np.zeros_like(n), where=den_a > 0)
    den_b = (n - 1.0) * n**2
    b = np.divide(1.0, den_b, out=np.zeros_like(n), where=den_b > 0)
    den_c = n * (n - d) * (n - 1.0)
    c = d1 * (n - d1) * np.divide(before, den_c, out=np.zeros_like(n), where=den_c > 0)
    var_a = cif**2 * np.cumsum(a) - 2.0 * cif * np.cumsum(cif * a) + np.cumsum(cif**2 * a)
    var_b = np.cumsum((n - d1) * d1 * b * before**2)
    var_c = -2.0 * (cif * np.cumsum(c) - np.cumsum(cif * c))
    variance = var_a + var_b + var_c

    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    low, high = _log_log_band(cif, variance, z)
    return CumulativeIncidence(
        **counts,
        times=uniq,
        cif=cif,
        low=low,
        high=high,
        at_risk=n.astype(np.int64),
        _sorted_times=t,
    )
