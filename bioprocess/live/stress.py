"""Stress tests of the live twin: noisy, missing and drifting data, and unknown batches.

Each scenario damages the offline data of held-out batches in one named way, replays them
through the hybrid twin and reports, per scenario, the error of the final-titre forecast,
how often the truth fell inside the interval, how wide the interval was, and how often the
twin said "I don't know". A twin that passes gives wide intervals or flags when damaged,
never a confident wrong answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import numpy as np

from bioprocess.calibration import BatchObservations
from bioprocess.live.replay import CHECKPOINTS, HybridTwin, follow

Damage = Callable[[BatchObservations, np.random.Generator], BatchObservations]


def more_noise(factor: float = 3.0, cv: float = 0.06) -> Damage:
    """Multiply every sample by ``1 + factor·cv·N(0, 1)`` (extra assay noise)."""
    def damage(o: BatchObservations, rng: np.random.Generator) -> BatchObservations:
        return replace(o, data={k: (t, np.maximum(v * (1 + factor * cv * rng.standard_normal(
            v.size)), 0.0)) for k, (t, v) in o.data.items()})
    return damage


def missing(share: float = 0.5) -> Damage:
    """Drop ``share`` of the samples at random (each state separately)."""
    def damage(o: BatchObservations, rng: np.random.Generator) -> BatchObservations:
        data = {}
        for k, (t, v) in o.data.items():
            keep = rng.random(t.size) >= share
            data[k] = (t[keep], v[keep])
        return replace(o, data=data)
    return damage


def drift(state: str = "titre", pct_per_day: float = 3.0) -> Damage:
    """An assay that drifts by ``pct_per_day`` % per day of the batch (calibration drift)."""
    def damage(o: BatchObservations, rng: np.random.Generator) -> BatchObservations:
        data = dict(o.data)
        if state in data:
            t, v = data[state]
            data[state] = (t, v * (1 + pct_per_day / 100.0 * t / 24.0))
        return replace(o, data=data)
    return damage


def clean() -> Damage:
    return lambda o, rng: o


DEFAULT_SCENARIOS: dict[str, Damage] = {
    "clean": clean(),
    "noise x3": more_noise(3.0),
    "missing 50 %": missing(0.5),
    "titre assay drift +3 %/day": drift("titre", 3.0),
    "VCD drift -3 %/day": drift("xv", -3.0),
}


def stress_test(
    twin: HybridTwin,
    batches: Sequence[BatchObservations],
    final_titres: Mapping[str, float],
    *,
    scenarios: Mapping[str, Damage] | None = None,
    out_of_domain: Sequence[BatchObservations] = (),
    seed: int = 0,
    fractions: Sequence[float] = CHECKPOINTS,
) -> dict[str, dict[str, float]]:
    """Run every scenario on ``batches`` (plus out-of-domain batches as their own scenario)."""
    rng = np.random.default_rng(seed)
    runs = {name: [d(o, rng) for o in batches]
            for name, d in (scenarios or DEFAULT_SCENARIOS).items()}
    if out_of_domain:
        runs["out of domain"] = list(out_of_domain)
    report = {}
    for name, obs in runs.items():
        rows = []
        for bid, updates in follow(obs, twin, fractions).items():
            for u in updates:
                h = u.hybrid
                rows.append((abs(h.final_titre - final_titres[bid]),
                             h.low <= final_titres[bid] <= h.high, h.high - h.low,
                             not h.knows,
                             abs(h.final_titre - final_titres[bid]) > (h.high - h.low) / 2))
        a = np.asarray(rows, dtype=float)
        report[name] = {
            "n_forecasts": len(rows),
            "mae_g_l": float(a[:, 0].mean()),
            "coverage": float(a[:, 1].mean()),
            "mean_width_g_l": float(a[:, 2].mean()),
            "dont_know_rate": float(a[:, 3].mean()),
            # a confident wrong answer: no flag and the truth outside the interval
            "confident_wrong_rate": float(np.mean((a[:, 3] == 0) & (a[:, 1] == 0))),
        }
    return report
