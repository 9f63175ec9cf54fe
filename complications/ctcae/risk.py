"""Risk adjustment: a logistic model of a major complication on case mix only, and the
observed/expected (O/E) ratio of a group of cases (a department, an operator).

- Model: ``statsmodels`` ``Logit`` (maximum likelihood) on the design the caller gives
  (one row per case, one column per case-mix term, no intercept: it is added here).
- Discrimination: the c statistic (area under the ROC curve, from the ranks: the
  probability that a case with the complication was given a higher risk than one without).
- Calibration: the Hosmer-Lemeshow test over tenths of predicted risk (chi-square with
  groups - 2 degrees of freedom; a small p-value says the predictions miss).
- Events per variable (EPV): events / estimated coefficients. Below ``MIN_EPV`` the model
  is not fitted and no O/E is given: with so few events the ratios would be fragile.
- O/E of a group: observed events over the sum of its cases' predicted risks, with the
  exact Poisson 95 % interval of the observed count divided by the expected.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

MIN_EPV = 10.0
Float = npt.NDArray[np.float64]


@dataclass(frozen=True)
class RiskModel:
    cases: int
    events: int
    parameters: int
    epv: float
    enough_events: bool
    expected: Float | None = None  # each case's predicted risk
    c_statistic: float | None = None
    hosmer_lemeshow_chi2: float | None = None
    hosmer_lemeshow_df: int | None = None
    hosmer_lemeshow_p: float | None = None


def c_statistic(outcome: Float, risk: Float) -> float:
    """Area under the ROC curve (Mann-Whitney), ties counted half."""
    positives = outcome == 1
    n1, n0 = int(positives.sum()), int((~positives).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    from scipy.stats import rankdata  # scipy and statsmodels load on first use: seconds at start-up

    ranks = rankdata(risk)
    return float((ranks[positives].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def hosmer_lemeshow(outcome: Float, risk: Float, groups: int = 10) -> tuple[float, int, float]:
    """The Hosmer-Lemeshow statistic over groups of predicted risk, its df and p-value."""
    order = np.argsort(risk, kind="mergesort")
    statistic = 0.0
    used = 0
    for part in np.array_split(order, groups):
        if part.size == 0:
            continue
        used += 1
        observed = float(outcome[part].sum())
        expected = float(risk[part].sum())
        n = part.size
        variance = expected * (1 - expected / n)
        if variance > 0:
            statistic += (observed - expected) ** 2 / variance
    df = max(used - 2, 1)
    from scipy.stats import chi2

    return statistic, df, float(chi2.sf(statistic, df))


def fit_risk_model(design: Float, outcome: Float, *, min_epv: float = MIN_EPV) -> RiskModel:
    """Fit the model when there are enough events; columns that never vary are dropped."""
    x = np.asarray(design, dtype=np.float64)
    y = np.asarray(outcome, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError("one design row per outcome")
    if x.shape[0] > 0:
        x = x[:, np.ptp(x, axis=0) > 0]
    cases, events = int(y.size), int(y.sum())
    parameters = int(x.shape[1])
    smaller = min(events, cases - events)
    epv = smaller / parameters if parameters else float(smaller)
    if epv < min_epv or smaller == 0:
        return RiskModel(cases, events, parameters, epv, False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import statsmodels.api as sm

        result = sm.Logit(y, sm.add_constant(x, has_constant="add")).fit(disp=0, maxiter=200)
    risk = np.asarray(result.predict(), dtype=np.float64)
    statistic, df, p = hosmer_lemeshow(y, risk)
    return RiskModel(
        cases,
        events,
        parameters,
        epv,
        True,
        expected=risk,
        c_statistic=c_statistic(y, risk),
        hosmer_lemeshow_chi2=statistic,
        hosmer_lemeshow_df=df,
        hosmer_lemeshow_p=p,
    )


def observed_expected(observed: int, expected: float) -> tuple[float, float, float]:
    """O/E with the exact Poisson 95 % interval of the observed count, over the expected."""
    if expected <= 0:
        raise ValueError("expected must be positive")
    from scipy.stats import chi2

    low = chi2.ppf(0.025, 2 * observed) / 2 if observed > 0 else 0.0
    high = chi2.ppf(0.975, 2 * observed + 2) / 2
    return observed / expected, float(low) / expected, float(high) / expected
