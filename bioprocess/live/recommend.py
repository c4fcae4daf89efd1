"""Recommend set-point changes for the rest of a running batch, inside proven ranges only.

The search space is the what-if space of :mod:`bioprocess.whatif` that can still be acted
on at time ``t``: feed rate (from now on), the time of the temperature shift (if it has
not happened yet) and the DO set point (from now on). Each lever may only take values
inside the site's **proven acceptable range** (:class:`ProvenRange`, derived at the site
from its good batches); a lever without a range is not touched. Every candidate is run on
every member of the filter's ensemble from the current state, so the gain of a candidate
over keeping the set points is a *paired* distribution over members: its mean is the
expected effect, its 5–95 % quantiles the uncertainty, the share of members that improve
the probability of improvement. A change is recommended only when that probability is at
least ``min_probability`` and the twin is in its domain.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bioprocess.kinetics import IX
from bioprocess.live.ensemble import EnsembleTwin, propagate
from bioprocess.stacking import stack, take

#: Levers of the search and their units.
LEVERS: dict[str, str] = {
    "feed_pct_per_day": "% of initial volume per day",
    "temp_shift_h": "h after inoculation",
    "do_setpoint_pct": "% air saturation",
}


@dataclass(frozen=True)
class ProvenRange:
    """The proven acceptable range of one lever at a site, with where it came from."""

    lever: str
    low: float
    high: float
    unit: str
    method: str
    batch_ids: tuple[str, ...]

    def contains(self, value: float, tol: float = 1e-9) -> bool:
        return self.low - tol <= value <= self.high + tol


@dataclass(frozen=True)
class Recommendation:
    """A proposed change (or "keep") for one batch at one time, with its evidence."""

    batch_id: str
    t_h: float
    action: str  # "change" | "keep"
    changes: Mapping[str, tuple[float, float]]  # lever -> (current, proposed)
    baseline_titre: float
    expected_titre: float
    expected_gain: float
    gain_low: float
    gain_high: float
    p_improve: float
    reason: str
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        if self.action == "keep":
            return f"keep the current set points ({self.reason})"
        moves = ", ".join(f"{k} {a:.3g} -> {b:.3g}" for k, (a, b) in self.changes.items())
        return (f"{moves}: final titre {self.baseline_titre:.2f} -> {self.expected_titre:.2f} g/L "
                f"(gain {self.expected_gain:+.2f}, 90 % [{self.gain_low:+.2f}, "
                f"{self.gain_high:+.2f}], P(improve) = {self.p_improve:.0%})")


def _levels(lever: str, rng_: ProvenRange, current: float, t_h: float, n: int) -> list[float]:
    low, high = rng_.low, rng_.high
    if lever == "temp_shift_h":
        if current <= t_h:  # already shifted: nothing left to decide
            return [current]
        low = max(low, t_h + 1.0)
        if low > high:
            return [current]
    # exact end points (no rounding): a proposal may sit on the range's edge, never beyond
    values = {float(v) for v in np.linspace(low, high, n)} if high > low else {low}
    return sorted(values | {current})


def recommend(
    twin: EnsembleTwin,
    b: int,
    ranges: Mapping[str, ProvenRange],
    *,
    levels: int = 4,
    min_probability: float = 0.8,
    knows: bool = True,
    evidence: Mapping[str, Any] | None = None,
) -> Recommendation:
    """Search the proven ranges for the change that most raises batch ``b``'s final titre."""
    batch = twin.batches[b]
    cols = twin.columns(b)
    current = {k: float(getattr(take(twin.recipe, cols.start), k)) for k in LEVERS}
    axes = {k: (_levels(k, ranges[k], current[k], twin.t_h, levels) if k in ranges
                else [current[k]]) for k in LEVERS}
    candidates = [dict(zip(axes, c, strict=True)) for c in itertools.product(*axes.values())]
    base_idx = candidates.index(current)
    m = twin.n_members
    y0 = np.tile(twin.y[:, cols], (1, len(candidates)))
    theta = np.tile(twin.theta[:, cols], (1, len(candidates)))
    one = take(twin.recipe, cols.start)
    recipes = stack([one.with_values(**c) for c in candidates for _ in range(m)])
    _, traj = propagate(y0, twin.t_h, float(twin.recipe.duration_h),
                        twin.forward_kinetics(theta), recipes, vessel=twin.vessel,
                        feed=twin.feed, dt_h=twin.settings.dt_h)
    final = traj[-1, IX["titre"]].reshape(len(candidates), m)
    gains = final - final[base_idx]
    best = int(np.argmax(gains.mean(axis=1)))
    gain = gains[best]
    p_improve = float(np.mean(gain > 0))
    ev = {
        "proven_ranges": {k: {"low": r.low, "high": r.high, "unit": r.unit, "method": r.method,
                              "batches": list(r.batch_ids)} for k, r in ranges.items()},
        "candidates_evaluated": len(candidates),
        "ensemble_members": m,
        "observations_assimilated": int(twin.n_assimilated[b]),
        "parameters": twin.parameter_summary(b),
        **(evidence or {}),
    }
    changes = {k: (current[k], candidates[best][k]) for k in LEVERS
               if candidates[best][k] != current[k]}
    common = dict(batch_id=batch.batch_id, t_h=twin.t_h,
                  baseline_titre=float(final[base_idx].mean()), evidence=ev)
    if not knows:
        return Recommendation(action="keep", changes={}, expected_titre=common["baseline_titre"],
                              expected_gain=0.0, gain_low=0.0, gain_high=0.0, p_improve=0.0,
                              reason="the twin does not know this batch (out of domain)",
                              **common)
    lo, hi = np.quantile(gain, [0.05, 0.95])
    if best == base_idx or p_improve < min_probability or gain.mean() <= 0:
        why = ("no candidate inside the proven ranges improves the forecast"
               if best == base_idx or gain.mean() <= 0 else
               f"best candidate improves in only {p_improve:.0%} of the ensemble")
        return Recommendation(action="keep", changes={}, expected_titre=common["baseline_titre"],
                              expected_gain=0.0, gain_low=float(lo), gain_high=float(hi),
                              p_improve=p_improve, reason=why, **common)
    return Recommendation(action="change", changes=changes,
                          expected_titre=float(final[best].mean()),
                          expected_gain=float(gain.mean()), gain_low=float(lo),
                          gain_high=float(hi), p_improve=p_improve,
                          reason="expected gain with probability of improvement "
                                 f">= {min_probability:.0%}", **common)
