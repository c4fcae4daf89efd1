"""Benchmark: the site analysis of one process at production size.

40 batches x 30 tags (27 online sampled every minute for 14 days = 20,160 samples each,
3 daily lab tags), 4 recipe phases of varying length, 35 good batches and 5 with injected
faults. Times :func:`bioprocess.analysis.analyse_site` with recipe phases and with phases
inferred from the data, and prints the time of each stage against the whole (wall and CPU
time: on a shared machine the CPU time is the steadier number).

Run: ``python -m benchmarks.analysis_site``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from bioprocess.analysis import (
    BatchEvolutionModel,
    ReferenceEnvelope,
    analyse_site,
    batch_features,
    find_deviation_events,
    segment_batches,
)
from bioprocess.analysis.synthetic import (
    InjectedFault,
    SyntheticProcess,
    make_batch,
)
from bioprocess.analysis.trajectories import BatchTrajectories

T = TypeVar("T")
N_BATCHES, N_FAULTY = 40, 5
PROCESS = SyntheticProcess(
    n_online=27, n_offline=3, phase_names=("batch", "fed-batch", "production", "harvest"),
    phase_hours=(72.0, 96.0, 144.0, 24.0), sample_interval_h=1 / 60, seed=11,
)


def campaign(recipe_phases: bool = True) -> list[BatchTrajectories]:
    rng = np.random.default_rng(5)
    batches = []
    for i in range(N_BATCHES):
        faults = []
        if i >= N_BATCHES - N_FAULTY:
            tag = PROCESS.tags[i % PROCESS.n_online]
            faults = [InjectedFault(tag, 200.0, 12.0, 0.6 * PROCESS.scale(tag))]
        batches.append(make_batch(PROCESS, f"B{i:03d}", rng, faults=faults,
                                  recipe_phases=recipe_phases, shared_time=True))
    return batches


def _timed(label: str, fn: Callable[[], T], total: list[float]) -> T:
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    total.append(dt)
    print(f"  {label:<34} {dt:7.2f} s wall {cpu:7.2f} s cpu")
    return out


def main() -> None:
    batches = campaign()
    good = [b.batch_id for b in batches[: N_BATCHES - N_FAULTY]]
    n_samples = sum(b.series[t][0].size for b in batches for t in b.series)
    print(f"{len(batches)} batches x {len(PROCESS.tags)} tags, {n_samples:,} samples")

    t0, c0 = time.perf_counter(), time.process_time()
    result = analyse_site(batches, good)
    whole = time.perf_counter() - t0
    print(f"analyse_site, recipe phases:        {whole:7.2f} s wall "
          f"{time.process_time() - c0:7.2f} s cpu")
    faulty = [result.batches[b.batch_id] for b in batches[N_BATCHES - N_FAULTY:]]
    print(f"  faulty batches with an event: {sum(bool(b.events) for b in faulty)}/{N_FAULTY};"
          f" beyond the 99 % T2/SPE limit: "
          f"{sum(b.evolution.beyond_99 for b in faulty if b.evolution)}/{N_FAULTY}")

    print("stages (recipe phases):")
    stages: list[float] = []
    refs = [b for b in batches if b.batch_id in set(good)]
    segs = _timed("phases", lambda: segment_batches(batches), stages)
    _timed("features", lambda: [batch_features(b, segs[b.batch_id]) for b in batches], stages)
    envs = _timed("envelopes", lambda: [ReferenceEnvelope().fit(refs, t, segmentations=segs)
                                        for t in PROCESS.tags], stages)
    _timed("deviation events", lambda: [find_deviation_events(b, e, segs[b.batch_id])
                                        for b in batches for e in envs], stages)
    model = _timed("batch-evolution model fit",
                   lambda: BatchEvolutionModel().fit(refs, segmentations=segs), stages)
    _timed("batch-evolution scoring",
           lambda: [model.score_batch(b, segs[b.batch_id]) for b in batches], stages)
    print(f"  {'sum of stages':<34} {sum(stages):7.2f} s (analyse_site {whole:.2f} s, "
          f"ratio {whole / sum(stages):.2f})")

    inferred = campaign(recipe_phases=False)
    t0, c0 = time.perf_counter(), time.process_time()
    analyse_site(inferred, good)
    print(f"analyse_site, inferred phases:      {time.perf_counter() - t0:7.2f} s wall "
          f"{time.process_time() - c0:7.2f} s cpu")


if __name__ == "__main__":
    main()
