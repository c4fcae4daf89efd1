"""Synthetic batch trajectories with known structure, for tests, benchmarks and examples.

Not a process model (that is :mod:`bioprocess.twin`): generic smooth tag trajectories on a
phase-registered clock, with set-point steps between phases, batch-to-batch variation
driven by a few shared latent factors (so tags are correlated), measurement noise,
phases of varying length, optional irregular sampling, gaps, sparse offline tags and
injected faults with known tag, time, size and direction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from bioprocess.analysis.trajectories import BatchTrajectories, PhaseSpan


@dataclass(frozen=True)
class InjectedFault:
    """An additive fault on one tag: a step, or a linear drift reaching ``size``."""

    tag: str
    start_h: float
    duration_h: float
    size: float
    kind: Literal["step", "drift"] = "step"


@dataclass(frozen=True, eq=False)
class SyntheticProcess:
    """A random but fixed process: tag shapes, phase plan, latent loadings.

    Parameters
    ----------
    n_online, n_offline : number of online (dense) and offline (lab) tags.
    phase_names, phase_hours : the recipe's phases and their nominal lengths.
    phase_jitter : relative sd of every phase length between batches.
    n_latent : shared latent factors of batch-to-batch variation.
    variation : size of the latent variation relative to a tag's scale.
    noise : measurement noise sd relative to a tag's scale.
    sample_interval_h, offline_interval_h : sampling intervals.
    seed : fixes the shapes and loadings.
    """

    n_online: int = 4
    n_offline: int = 1
    phase_names: tuple[str, ...] = ("growth", "production", "decline")
    phase_hours: tuple[float, ...] = (48.0, 72.0, 24.0)
    phase_jitter: float = 0.1
    n_latent: int = 2
    variation: float = 0.05
    noise: float = 0.01
    sample_interval_h: float = 0.1
    offline_interval_h: float = 24.0
    seed: int = 0
    _coef: dict = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        n = self.n_online + self.n_offline
        p = len(self.phase_names)
        coef = {
            "level": rng.uniform(5.0, 50.0, n),
            "steps": rng.uniform(-0.3, 0.3, (n, p)),
            "amp": rng.uniform(0.1, 0.5, (n, 3)),
            "freq": rng.uniform(0.5, 2.0, (n, 3)),
            "phase": rng.uniform(0, 2 * np.pi, (n, 3)),
            "loadings": rng.normal(0.0, 1.0, (n, self.n_latent)),
        }
        object.__setattr__(self, "_coef", coef)

    @property
    def tags(self) -> tuple[str, ...]:
        online = tuple(f"online_{i}" for i in range(self.n_online))
        return online + tuple(f"lab_{i}" for i in range(self.n_offline))

    def scale(self, tag: str) -> float:
        """The tag's typical level (noise and variation are relative to it)."""
        return float(self._coef["level"][self.tags.index(tag)])

    def shape(self, tag: str, clock: np.ndarray) -> np.ndarray:
        """Noise-free mean trajectory of ``tag`` at registered clock ``phase + u``."""
        c = self._coef
        j = self.tags.index(tag)
        p = len(self.phase_names)
        phase = np.clip(np.floor(clock).astype(int), 0, p - 1)
        x = clock / p
        wave = np.sum(c["amp"][j][:, None] * np.sin(2 * np.pi * c["freq"][j][:, None] * x
                                                     + c["phase"][j][:, None]), axis=0)
        return c["level"][j] * (1.0 + c["steps"][j][phase] + 0.3 * wave)

    def latent_effect(self, tag: str, clock: np.ndarray, latent: np.ndarray) -> np.ndarray:
        j = self.tags.index(tag)
        x = clock / len(self.phase_names)
        growth = 0.5 + x
        return self._coef["level"][j] * self.variation * float(
            self._coef["loadings"][j] @ latent) * growth


def _sample_times(end: float, step: float, rng: np.random.Generator, irregular: bool
                  ) -> np.ndarray:
    if not irregular:
        return np.arange(0.0, end + 1e-9, step)
    t = np.cumsum(rng.uniform(0.5 * step, 1.5 * step, int(end / step * 1.1) + 10))
    return np.concatenate([[0.0], t[t <= end]])


def make_batch(
    process: SyntheticProcess,
    batch_id: str,
    rng: np.random.Generator,
    *,
    faults: Sequence[InjectedFault] = (),
    latent: np.ndarray | None = None,
    decouple: Sequence[str] = (),
    recipe_phases: bool = True,
    length_scale: float = 1.0,
    irregular: bool = False,
    gaps: Sequence[tuple[str, float, float]] = (),
    shared_time: bool = False,
) -> BatchTrajectories:
    """One synthetic batch.

    Parameters
    ----------
    faults : additive faults on online or offline tags.
    latent : the batch's latent factors (default: standard normal draw).
    decouple : tags whose latent factors are the negated batch factors (broken correlation
        structure while each tag stays within its usual range).
    recipe_phases : record the phases (else the batch has none and they must be inferred).
    length_scale : multiplies every phase length.
    irregular : jittered sampling intervals instead of a regular grid.
    gaps : ``(tag, start_h, end_h)`` stretches without samples.
    shared_time : online tags share one time array (saves memory in benchmarks).
    """
    lengths = np.asarray(process.phase_hours) * length_scale
    lengths = lengths * np.exp(rng.normal(0.0, process.phase_jitter, lengths.size))
    edges = np.concatenate([[0.0], np.cumsum(lengths)])
    end = float(edges[-1])
    z = rng.normal(0.0, 1.0, process.n_latent) if latent is None else np.asarray(latent)
    series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    t_online = _sample_times(end, process.sample_interval_h, rng, irregular)
    for tag in process.tags:
        offline = tag.startswith("lab_")
        if offline:
            t = np.arange(0.0, end + 1e-9, process.offline_interval_h)
        else:
            t = t_online if shared_time else _sample_times(
                end, process.sample_interval_h, rng, irregular)
        idx = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, lengths.size - 1)
        clock = idx + (t - edges[idx]) / lengths[idx]
        zt = -z if tag in decouple else z
        v = (process.shape(tag, clock) + process.latent_effect(tag, clock, zt)
             + rng.normal(0.0, process.noise * process.scale(tag), t.size))
        for fault in faults:
            if fault.tag != tag:
                continue
            inside = (t >= fault.start_h) & (t < fault.start_h + fault.duration_h)
            if fault.kind == "step":
                v[inside] += fault.size
            else:
                v[inside] += fault.size * (t[inside] - fault.start_h) / fault.duration_h
        for gap_tag, g0, g1 in gaps:
            if gap_tag == tag:
                keep = (t < g0) | (t > g1)
                t, v = t[keep], v[keep]
        series[tag] = (t, v)
    phases = [PhaseSpan(name, float(edges[i]), float(edges[i + 1]))
              for i, name in enumerate(process.phase_names)] if recipe_phases else []
    units = {tag: f"unit_{tag}" for tag in process.tags}
    return BatchTrajectories(batch_id, series, phases, end, units)


def make_batches(process: SyntheticProcess, n: int, seed: int, prefix: str = "B",
                 **kwargs: object) -> list[BatchTrajectories]:
    """``n`` good batches ``{prefix}000 ...`` (keyword arguments go to :func:`make_batch`)."""
    rng = np.random.default_rng(seed)
    return [make_batch(process, f"{prefix}{i:03d}", rng, **kwargs)  # type: ignore[arg-type]
            for i in range(n)]
