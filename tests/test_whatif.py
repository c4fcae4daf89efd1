"""What-if runs on the twin and calibration of the twin to a site's batches."""

from __future__ import annotations

import time

import numpy as np
import pytest

from bioprocess.calibration import calibrate
from bioprocess.campaign import CampaignConfig, generate_campaign
from bioprocess.kinetics import KineticParameters
from bioprocess.sites import (
    builtin_site_profiles,
    nominal_kinetics,
    nominal_recipe,
    vessel_capacity,
)
from bioprocess.twin import VesselCapacity, simulate_ideal_solve_ivp
from bioprocess.whatif import (
    DEFAULT_BOUNDS,
    WhatIfDesign,
    grid_design,
    random_design,
    run_whatif,
)

SITE = builtin_site_profiles()[0]


def _run(design: WhatIfDesign, days: float = 14.0):
    return run_whatif(
        design,
        base_recipe=nominal_recipe(SITE, days),
        kinetics=nominal_kinetics(SITE),
        vessel=vessel_capacity(SITE),
        days=days,
    )


def test_thousand_virtual_batches_run_in_under_ten_seconds():
    t0 = time.perf_counter()
    result = _run(random_design(1000, seed=4))
    elapsed = time.perf_counter() - t0
    frame = result.to_frame()
    assert len(frame) == 1000 and elapsed < 10.0
    assert frame["final_titre_g_l"].between(0.5, 8.0).all()
    assert np.isfinite(frame.to_numpy()).all()


def test_vectorised_twin_agrees_with_solve_ivp():
    design = random_design(3, seed=9)
    result = _run(design)
    recipe = nominal_recipe(SITE)
    for i in range(3):
        r = recipe.with_values(
            feed_pct_per_day=float(design.feed_pct_per_day[i]),
            temp_shift_h=float(design.temp_shift_day[i]) * 24.0,
            do_setpoint_pct=float(design.do_setpoint_pct[i]),
            seed_density=float(design.seed_density[i]),
        )
        ref = simulate_ideal_solve_ivp(nominal_kinetics(SITE), r, vessel=vessel_capacity(SITE))
        assert result.final_titre_g_l[i] == pytest.approx(ref[7], rel=5e-3)
        assert result.final_volume_l[i] == pytest.approx(ref[8], rel=1e-4)


def test_designs_cover_the_requested_space():
    grid = grid_design(
        feed_pct_per_day=(3, 4),
        temp_shift_day=(4, 5, 6),
        do_setpoint_pct=(40,),
        seed_density=(0.5, 1.0),
    )
    assert len(grid) == 2 * 3 * 1 * 2
    d = random_design(200, seed=1)
    frame = d.to_frame()
    for name, (lo, hi) in DEFAULT_BOUNDS.items():
        assert frame[name].between(lo, hi).all()
        assert frame[name].max() - frame[name].min() > 0.9 * (hi - lo)  # space-filling
    assert np.array_equal(
        random_design(50, seed=3).seed_density, random_design(50, seed=3).seed_density
    )
    with pytest.raises(ValueError, match="must be >= 1"):
        random_design(0)


def test_outcomes_respond_to_inputs_as_a_process_engineer_expects():
    # rows: no feed / nominal feed; early / late temperature shift; DO 40 % / 80 %
    design = WhatIfDesign(
        feed_pct_per_day=np.array([0.0, 3.6, 3.6, 3.6, 3.6, 3.6]),
        temp_shift_day=np.array([5.0, 5.0, 3.0, 8.0, 5.0, 5.0]),
        do_setpoint_pct=np.array([40.0, 40.0, 40.0, 40.0, 40.0, 80.0]),
        seed_density=np.full(6, 0.6),
    )
    result = _run(design)
    starved, fed = result.final_titre_g_l[:2]
    assert starved < 0.7 * fed
    early, late = result.peak_vcd[2:4]
    assert late > early
    assert result.min_do_pct[4:] == pytest.approx([40.0, 80.0])  # a 2,000 L vessel holds both
    weak = run_whatif(design, base_recipe=nominal_recipe(SITE), vessel=VesselCapacity(3.0))
    assert weak.min_do_pct[5] < 60.0  # a vessel with kLa 3 1/h cannot hold 80 % at peak demand


def test_calibration_recovers_a_sites_kinetics_and_reports_fit_per_state():
    campaign = generate_campaign(
        CampaignConfig(
            n_sites=1,
            batches_per_site=3,
            fault_rate=0.0,
            seed=21,
            days=10.0,
            second_sponsor_batches=0,
        )
    )
    observations = [b.observations() for b in campaign.batches]
    start = KineticParameters().with_values(mu_max=0.036, qp_beta=0.7, y_lac_glc=1.4)
    result = calibrate(
        observations,
        ("mu_max", "qp_beta", "y_lac_glc"),
        initial=start,
        vessel=vessel_capacity(campaign.sites[0]),
    )
    summary = result.summary().set_index("state")
    assert set(summary.index) == {"xv", "glc", "gln", "lac", "amm", "titre"}
    assert summary.loc["xv", "r2"] > 0.9 and summary.loc["titre", "r2"] > 0.9
    assert (summary["r2"] >= summary["r2_before"] - 1e-6).all()
    assert result.estimates["mu_max"] == pytest.approx(0.048, rel=0.15)
    assert result.estimates["qp_beta"] == pytest.approx(1.05, rel=0.2)
    assert all(np.isfinite(list(result.std_errors.values())))
