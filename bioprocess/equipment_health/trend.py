"""Trend and change-point statistics for short series of per-batch indicator values.

* :func:`mann_kendall` — Kendall's S of the values against their order, with the exact
  null distribution (Mahonian numbers) up to 60 values and the normal approximation
  beyond, so a series of 4 or 5 batches gets an honest p-value.
* :func:`theil_sen` — median of pairwise slopes (robust to one odd batch).
* :func:`cusum` — one-sided tabular CUSUM of standardised values against a baseline.
* :func:`robust_sigma` — batch-to-batch noise scale from centred first differences
  (a linear trend does not inflate it).

References
----------
.. [1] Mann HB (1945). Nonparametric tests against trend. Econometrica 13:245-259.
.. [2] Kendall MG (1975). Rank Correlation Methods. Griffin.
.. [3] Sen PK (1968). Estimates of the regression coefficient based on Kendall's tau.
   JASA 63:1379-1389.
.. [4] Page ES (1954). Continuous inspection schemes. Biometrika 41:100-115.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

_EXACT_MAX_N = 60


@dataclass(frozen=True)
class MannKendall:
    s: int
    n: int
    p_increasing: float  # one-sided p-value against "no trend", alternative: increasing
    p_decreasing: float


@cache
def _inversion_counts(n: int) -> tuple[int, ...]:
    """Number of permutations of n items with k inversions, k = 0 .. n(n-1)/2."""
    counts = [1]
    for m in range(2, n + 1):
        new = [0] * (len(counts) + m - 1)
        for k, c in enumerate(counts):
            for j in range(m):
                new[k + j] += c
        counts = new
    return tuple(counts)


def mann_kendall(values: Sequence[float]) -> MannKendall:
    """Mann-Kendall trend test of ``values`` in their given order (ties count 0)."""
    x = np.asarray(values, dtype=float)
    n = x.size
    if n < 2:
        return MannKendall(0, n, 1.0, 1.0)
    diff = np.sign(x[None, :] - x[:, None])
    s = int(np.sum(np.triu(diff, 1)))
    if n <= _EXACT_MAX_N:
        counts = _inversion_counts(n)
        total = math.factorial(n)
        pairs = n * (n - 1) // 2
        # S = pairs - 2 * inversions, so S >= s  <=>  inversions <= (pairs - s) / 2
        p_inc = sum(counts[: math.floor((pairs - s) / 2) + 1]) / total
        p_dec = sum(counts[math.ceil((pairs - s) / 2):]) / total
        return MannKendall(s, n, min(p_inc, 1.0), min(p_dec, 1.0))
    var = n * (n - 1) * (2 * n + 5) / 18.0
    z_inc = (s - 1) / math.sqrt(var) if s > 0 else (s + 1) / math.sqrt(var) if s < 0 else 0.0
    p_inc = 0.5 * math.erfc(z_inc / math.sqrt(2))
    p_dec = 0.5 * math.erfc(-z_inc / math.sqrt(2))
    return MannKendall(s, n, p_inc, p_dec)


def theil_sen(values: Sequence[float]) -> tuple[float, float]:
    """Median pairwise slope (per batch) and intercept (at index 0) of ``values``."""
    y = np.asarray(values, dtype=float)
    n = y.size
    if n < 2:
        return 0.0, float(y[0]) if n else 0.0
    i, j = np.triu_indices(n, 1)
    slope = float(np.median((y[j] - y[i]) / (j - i)))
    intercept = float(np.median(y - slope * np.arange(n)))
    return slope, intercept


def robust_sigma(series: Sequence[Sequence[float]]) -> float | None:
    """Noise scale of batch-to-batch values pooled over several series (e.g. assets).

    Each series' first differences are centred on their own median (removing a linear
    trend), pooled, and turned into a standard deviation by 1.4826 x MAD / sqrt(2).
    """
    pooled = []
    for s in series:
        d = np.diff(np.asarray(s, dtype=float))
        if d.size:
            pooled.append(d - np.median(d))
    if not pooled:
        return None
    d = np.concatenate(pooled)
    if d.size < 2:
        return None
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / math.sqrt(2.0))


def cusum(z: Sequence[float], k: float = 0.5) -> np.ndarray:
    """Upper one-sided tabular CUSUM ``C_i = max(0, C_{i-1} + z_i - k)`` of ``z``."""
    out = np.zeros(len(z))
    c = 0.0
    for i, zi in enumerate(z):
        c = max(0.0, c + float(zi) - k)
        out[i] = c
    return out
