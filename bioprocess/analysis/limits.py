"""Control limits for Hotelling's T² and the squared prediction error (SPE, Q).

References
----------
.. [1] Nomikos, P., MacGregor, J. F. (1995). Multi-way partial least squares in monitoring
   batch processes / Multivariate SPC charts for monitoring batch processes.
   *AIChE J.* 40(8), 1361-1375 (1994) and *Technometrics* 37(1), 41-59 (1995):
   F-distribution limit for T² of a new batch and the ``g chi²_h`` approximation for SPE.
.. [2] Jackson, J. E., Mudholkar, G. S. (1979). Control procedures for residuals associated
   with principal component analysis. *Technometrics* 21(3), 341-349.
.. [3] Box, G. E. P. (1954). Some theorems on quadratic forms applied in the study of
   analysis of variance problems. *Ann. Math. Statist.* 25(2), 290-302.
.. [4] Tracy, N. D., Young, J. C., Mason, R. L. (1992). Multivariate control charts for
   individual observations. *J. Quality Technology* 24(2), 88-95.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def t2_limit(n_components: int, n_batches: int, confidence: float) -> float:
    """Upper limit of T² for a *new* batch, from the F distribution.

    ``A (N - 1)(N + 1) / (N (N - A)) * F_conf(A, N - A)`` (Tracy et al. 1992; Nomikos &
    MacGregor 1995) for ``A`` components fitted on ``N`` reference batches.
    """
    a, n = n_components, n_batches
    if n - a < 1:
        return float("inf")
    return float(a * (n - 1) * (n + 1) / (n * (n - a)) * stats.f.ppf(confidence, a, n - a))


def box_limit(values: np.ndarray, confidence: float) -> float:
    """Box's ``g chi²_h`` approximation fitted to reference values by moments.

    ``g = var / (2 mean)``, ``h = 2 mean² / var`` (Box 1954; Nomikos & MacGregor 1995).
    Non-finite values are ignored; returns NaN with fewer than two values.
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return float("nan")
    mean, var = float(x.mean()), float(x.var(ddof=1))
    if not mean > 0:
        return 0.0
    if not var > 0:
        return mean
    g, h = var / (2.0 * mean), 2.0 * mean * mean / var
    return float(g * stats.chi2.ppf(confidence, h))


def box_limits_by_column(values: np.ndarray, confidence: float) -> np.ndarray:
    """:func:`box_limit` of every column of ``values`` (rows = reference batches)."""
    x = np.where(np.isfinite(values), values, np.nan)
    n = np.sum(np.isfinite(x), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nanmean(np.where(n > 1, x, 0.0), axis=0)
        var = np.nanvar(np.where(n > 1, x, 0.0), axis=0, ddof=1)
        g = var / (2.0 * mean)
        h = 2.0 * mean * mean / var
        lim = g * stats.chi2.ppf(confidence, h)
    lim = np.where(var > 0, lim, mean)
    lim = np.where(mean > 0, lim, 0.0)
    return np.where(n > 1, lim, np.nan)


def jackson_mudholkar_limit(residual_eigenvalues: np.ndarray, confidence: float) -> float:
    """SPE limit from the eigenvalues of the residual (unmodelled) components.

    ``Q = theta1 [c sqrt(2 theta2 h0²)/theta1 + 1 + theta2 h0 (h0 - 1)/theta1²]^(1/h0)``
    with ``theta_i = sum(lambda_j^i)`` and ``h0 = 1 - 2 theta1 theta3 / (3 theta2²)``
    (Jackson & Mudholkar 1979).
    """
    lam = np.asarray(residual_eigenvalues, dtype=float)
    lam = lam[lam > 0]
    if lam.size == 0:
        return 0.0
    th1, th2, th3 = (float(np.sum(lam**i)) for i in (1, 2, 3))
    h0 = 1.0 - 2.0 * th1 * th3 / (3.0 * th2 * th2)
    c = float(stats.norm.ppf(confidence))
    inner = c * np.sqrt(2.0 * th2 * h0 * h0) / th1 + 1.0 + th2 * h0 * (h0 - 1.0) / (th1 * th1)
    return float(th1 * inner ** (1.0 / h0))
