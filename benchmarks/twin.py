"""Benchmark the process twin: campaign generation, and vectorised what-if vs solve_ivp.

Prints
* the time to generate the demo campaign (3 sites x 8 batches + 2 second-sponsor
  batches, 14 days, with counterfactuals) and to write it as bundles;
* virtual 14-day batches per second of :func:`bioprocess.whatif.run_whatif` (all batches
  stacked, fixed-step RK4) for a 1,000-batch Latin-hypercube design;
* the same model integrated batch by batch with ``scipy.integrate.solve_ivp`` (LSODA) on
  a subset of the same design, its batches per second, the speed-up ratio, and the
  largest difference in final titre between the two integrations.

Usage: ``python benchmarks/twin.py [--n 1000] [--ivp-batches 40] [--skip-campaign]``
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from bioprocess.campaign import CampaignConfig, generate_campaign
from bioprocess.sites import (
    builtin_site_profiles,
    nominal_kinetics,
    nominal_recipe,
    vessel_capacity,
)
from bioprocess.twin import simulate_ideal_solve_ivp
from bioprocess.whatif import random_design, run_whatif
from twinfed.bundle_writer import write_campaign


def bench_campaign() -> None:
    t0 = time.perf_counter()
    campaign = generate_campaign(CampaignConfig())
    t_gen = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        t1 = time.perf_counter()
        written = write_campaign(campaign, tmp)
        t_write = time.perf_counter() - t1
    n_cf = sum(1 for b in campaign.batches if b.faults)
    print(
        f"campaign: {len(campaign.batches)} batches (+{n_cf} counterfactuals), "
        f"{len(campaign.sites)} sites, 14 days, 1-5 min online data, Raman every 2-4 h"
    )
    print(f"  generate            {t_gen:8.2f} s")
    print(f"  write bundles (csv) {t_write:8.2f} s   ({written.n_bytes / 1e6:.0f} MB)")


def bench_whatif(n: int, n_ivp: int) -> None:
    site = builtin_site_profiles()[0]
    recipe, kinetics, vessel = nominal_recipe(site), nominal_kinetics(site), vessel_capacity(site)
    design = random_design(n, seed=1)
    result = run_whatif(design, base_recipe=recipe, kinetics=kinetics, vessel=vessel)
    rate_vec = n / result.elapsed_s

    k = min(n_ivp, n)
    titres = np.empty(k)
    t0 = time.perf_counter()
    for i in range(k):
        r = recipe.with_values(
            feed_pct_per_day=float(design.feed_pct_per_day[i]),
            temp_shift_h=float(design.temp_shift_day[i]) * 24.0,
            do_setpoint_pct=float(design.do_setpoint_pct[i]),
            seed_density=float(design.seed_density[i]),
        )
        titres[i] = simulate_ideal_solve_ivp(kinetics, r, vessel=vessel)[7]
    t_ivp = time.perf_counter() - t0
    rate_ivp = k / t_ivp
    diff = np.abs(result.final_titre_g_l[:k] - titres) / np.maximum(titres, 1e-9)
    print(f"what-if: {n} virtual 14-day batches (feed, shift day, DO set point, seeding)")
    print(f"  vectorised RK4 (dt 0.25 h)  {result.elapsed_s:8.2f} s  {rate_vec:10.1f} batches/s")
    print(f"  solve_ivp LSODA loop ({k:>4})  {t_ivp:8.2f} s  {rate_ivp:10.1f} batches/s")
    print(f"  speed-up                    {rate_vec / rate_ivp:8.1f} x")
    print(f"  max |titre difference|      {100 * diff.max():8.3f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description="Process-twin benchmark")
    parser.add_argument("--n", type=int, default=1000, help="virtual batches (vectorised)")
    parser.add_argument("--ivp-batches", type=int, default=40, help="batches for solve_ivp")
    parser.add_argument("--skip-campaign", action="store_true")
    args = parser.parse_args()
    if not args.skip_campaign:
        bench_campaign()
    bench_whatif(args.n, args.ivp_batches)


if __name__ == "__main__":
    main()
