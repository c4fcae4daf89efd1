"""Build the analytics benchmark's per-seed cache (``.twinfed/bench-cache/``) ahead of it.

Used by :mod:`benchmarks.run_all` on a cold run: started on its side track at idle CPU
priority (``SCHED_IDLE``, after the 10 x 1,000 store fill), it simulates and site-analyses the
analytics benchmark's campaigns on the core the timed benchmarks leave free, so the
analytics run (last) finds its store contents cached. A 120-batch seed costs ~100 s of CPU.
Only seeds without a cache file are built; nothing is
ever deleted. The work is what ``benchmarks.analytics.seed_data`` does on a cache miss — this
module only decides when it runs.

Run: ``python -m benchmarks._prepare [--worker K --workers N]`` (worker K of N builds every
N-th missing seed); ``--list`` prints the seeds still missing.
"""

from __future__ import annotations

import argparse
import time

#: What ``python -m benchmarks.analytics`` uses by default: its seeds at the benchmark's fault
#: rate, and the fault-free seed (fault rate 0), 40 batches per site.
BATCHES_PER_SITE = 40
FAULT_FREE_SEED = 101


def wanted() -> list[tuple[int, float]]:
    """``(seed, fault rate)`` of each campaign the analytics benchmark reads by default."""
    from benchmarks import analytics

    return [(seed, analytics.FAULT_RATE) for seed in analytics.DEFAULT_SEEDS] + [
        (FAULT_FREE_SEED, 0.0)]


def missing() -> list[tuple[int, float]]:
    from benchmarks import analytics

    return [(seed, rate) for seed, rate in wanted()
            if not analytics._cache_path(seed, BATCHES_PER_SITE, rate).exists()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args(argv)
    todo = missing()
    if args.list:
        print(" ".join(f"{seed}@{rate:g}" for seed, rate in todo) or "none")
        return 0
    from benchmarks.analytics import seed_data

    for seed, rate in todo[args.worker::args.workers]:
        started = time.perf_counter()
        seed_data(seed, BATCHES_PER_SITE, rate, True)
        print(f"analytics cache: seed {seed} (fault rate {rate:g}) built in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
