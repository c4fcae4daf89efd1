"""Drift of one asset's indicator across its successive batches, and what to do about it.

:func:`assess_drift` looks at the values of one indicator on one asset, in batch order,
and decides after every batch (as a site would, batch by batch) whether the asset drifts:

* **trend** — Mann-Kendall test in the direction in which the indicator gets worse
  (two-sided for indicators that get worse away from zero), p < ``alpha``, *and* a
  Theil-Sen fitted change over the series of at least ``min_change_sigmas`` noise
  scales (a tiny but steady trend is not a maintenance order);
* **change point** — a one-sided CUSUM of the standardised values (clipped to
  ``cusum_clip``, so a single odd batch cannot fire it) against the asset's first
  ``baseline_batches`` crosses ``cusum_h`` (a step, e.g. a badly calibrated probe); its
  last zero before the crossing estimates where the change began.

The noise scale comes from outside (:func:`bioprocess.equipment_health.trend.robust_sigma`
pooled over the assets of one kind), floored by the indicator's resolution. The first batch
at which either rule fires is the detection; the evidence is the whole series, the fitted
trend, the test statistics, and the expected number of batches until the indicator's
maintenance limit (:class:`~bioprocess.equipment_health.indicators.IndicatorSpec`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bioprocess.equipment_health.indicators import INDICATORS, IndicatorSpec
from bioprocess.equipment_health.trend import cusum, mann_kendall, theil_sen


@dataclass(frozen=True)
class DriftRule:
    """Decision parameters (defaults give the false-alarm rate stated in the docs)."""

    alpha: float = 0.05
    min_batches: int = 4
    min_change_sigmas: float = 3.0
    baseline_batches: int = 2
    cusum_k: float = 0.5
    cusum_h: float = 4.0
    #: standardised values are clipped to +-this before the CUSUM, so one odd batch (an
    #: in-batch fault) cannot raise a drift on its own: a change must persist
    cusum_clip: float = 3.0


@dataclass(frozen=True)
class DriftAssessment:
    """One indicator of one asset over its batches: is it drifting, and the evidence."""

    asset: str
    indicator: str
    component: str
    unit: str
    batches: tuple[str, ...]
    values: tuple[float, ...]
    sigma: float
    slope_per_batch: float
    intercept: float
    mk_s: int  # Kendall S in the direction in which the indicator gets worse
    mk_p: float
    cusum_max: float
    change_index: int | None  # CUSUM onset estimate (index into batches)
    detected_index: int | None  # first batch at which a rule fired (None: no drift)
    rule: str | None  # "trend", "change point" or "trend and change point"
    baseline: float
    limit: float  # the maintenance limit in the indicator's unit
    latest_fitted: float
    batches_to_limit: float | None  # None: not heading towards the limit

    @property
    def drifting(self) -> bool:
        return self.detected_index is not None

    @property
    def spec(self) -> IndicatorSpec:
        return INDICATORS[self.indicator]

    def recommendation(self) -> str:
        """Maintenance recommendation in words, with the expected time to the limit."""
        if not self.drifting:
            return ""
        to_limit = self.batches_to_limit
        if to_limit == 0:
            when = f"now: the trend has reached the limit {self.limit:.4g} {self.unit}"
        elif to_limit is not None and to_limit < 1:
            when = f"before the next batch: the trend reaches the limit {self.limit:.4g} " \
                   f"{self.unit} within it"
        elif to_limit is not None:
            when = (f"within {int(to_limit)} batch(es), when the trend reaches the limit "
                    f"{self.limit:.4g} {self.unit}")
        else:
            when = "at the next planned maintenance"
        return f"{self.asset} ({self.spec.component}): {self.spec.action}, {when}"


def _orient(values: np.ndarray, worse: str, slope: float) -> tuple[np.ndarray, float]:
    """Values turned so that 'worse' is up, and the sign used (+1 or -1)."""
    if worse == "up":
        return values, 1.0
    if worse == "down":
        return -values, -1.0
    sign = 1.0 if slope >= 0 else -1.0  # away from zero: judge in the direction it moves
    return sign * values, sign


def _limit(spec: IndicatorSpec, baseline: float, sign: float) -> float:
    if spec.worse == "away":
        return sign * spec.limit
    if spec.relative:
        return baseline * (1.0 + spec.limit if spec.worse == "up" else 1.0 - spec.limit)
    return spec.limit


def _fires(y: np.ndarray, sigma: float, rule: DriftRule, two_sided: bool
           ) -> tuple[str | None, float, int | None, int, float]:
    """Rule verdict on oriented values ``y`` (worse = up)."""
    n = y.size
    mk = mann_kendall(y)
    p = min(1.0, 2 * min(mk.p_increasing, mk.p_decreasing)) if two_sided else mk.p_increasing
    slope, _ = theil_sen(y)
    trend = (n >= rule.min_batches and p < rule.alpha and mk.s > 0
             and slope * (n - 1) >= rule.min_change_sigmas * sigma)
    m = min(rule.baseline_batches, n)
    # the baseline is a mean of m noisy values: its own error widens the scale
    scale = sigma * np.sqrt(1.0 + 1.0 / m)
    z = np.clip((y - float(np.mean(y[:m]))) / scale, -rule.cusum_clip, rule.cusum_clip)
    c = cusum(z[m:], rule.cusum_k) if n > m else np.zeros(0)
    c_max = float(c.max()) if c.size else 0.0
    step = n >= m + 2 and c_max > rule.cusum_h
    change = None
    if c.size and c_max > 0:
        first_alarm = int(np.argmax(c > rule.cusum_h)) if step else int(np.argmax(c))
        zeros = np.flatnonzero(c[: first_alarm + 1] == 0)
        change = m + (int(zeros[-1]) + 1 if zeros.size else 0)
    verdict = ("trend and change point" if trend and step else "trend" if trend
               else "change point" if step else None)
    return verdict, p, change, mk.s, c_max


def assess_drift(asset: str, indicator: str, batches: Sequence[str], values: Sequence[float],
                 sigma: float, rule: DriftRule | None = None) -> DriftAssessment:
    """Judge one asset's indicator series (batch order) batch by batch; see the module doc."""
    rule = rule or DriftRule()
    spec = INDICATORS[indicator]
    x = np.asarray(values, dtype=float)
    if x.size != len(batches):
        raise ValueError(f"one value per batch is needed; got {x.size} values for "
                         f"{len(batches)} batches")
    n = x.size
    m = max(1, min(rule.baseline_batches, n))
    baseline = float(np.median(x[:m])) if n else float("nan")
    floor = spec.min_sigma * abs(baseline) if spec.relative else spec.min_sigma
    sigma = max(float(sigma), floor, 1e-12)
    slope, intercept = theil_sen(x) if n else (0.0, float("nan"))
    two_sided = spec.worse == "away"

    detected = None
    verdict = None
    for k in range(rule.min_batches, n + 1):  # as the site would have judged after batch k
        s_k, _ = theil_sen(x[:k])
        y_k, _ = _orient(x[:k], spec.worse, s_k)
        verdict, _, _, _, _ = _fires(y_k, sigma, rule, two_sided)
        if verdict is not None:
            detected = k - 1
            break
    y, sign = _orient(x, spec.worse, slope)
    final_verdict, p, change, s, c_max = _fires(y, sigma, rule, two_sided)
    limit = _limit(spec, baseline, sign)
    fitted = intercept + slope * (n - 1)
    to_limit: float | None = None
    toward = (limit - fitted) * slope
    if (spec.worse == "away" and abs(fitted) >= abs(limit)) or (
        spec.worse == "up" and fitted >= limit) or (spec.worse == "down" and fitted <= limit):
        to_limit = 0.0
    elif slope != 0 and toward > 0:
        to_limit = float((limit - fitted) / slope)
    return DriftAssessment(
        asset=asset, indicator=indicator, component=spec.component, unit=spec.unit,
        batches=tuple(batches), values=tuple(float(v) for v in x), sigma=sigma,
        slope_per_batch=slope, intercept=intercept, mk_s=s,
        mk_p=p, cusum_max=c_max, change_index=change, detected_index=detected,
        rule=verdict if detected is not None else None, baseline=baseline, limit=limit,
        latest_fitted=float(fitted), batches_to_limit=to_limit,
    )
