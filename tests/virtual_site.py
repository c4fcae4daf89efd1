"""One built-in site's clone, recipe and vessel, and virtual batches of it with known truth
(shared by the live-twin and early-yield tests)."""

from __future__ import annotations

import numpy as np

from bioprocess.live.virtual import VirtualBatch, draw_kinetics, virtual_batch
from bioprocess.sites import (
    builtin_site_profiles,
    nominal_kinetics,
    nominal_recipe,
    vessel_capacity,
)

SITE = builtin_site_profiles()[0]
CLONE = nominal_kinetics(SITE)
RECIPE = nominal_recipe(SITE)
VESSEL = vessel_capacity(SITE)
#: batch-to-batch variation of the clone (a little wider than the site profile's)
VARIATION = {"mu_max": 0.08, "qp_beta": 0.10, "y_x_glc": 0.06, "kd_min": 0.2, "x_max": 0.06}


def virtual_batches(n: int, seed: int, prefix: str = "V",
                    **kinetics: float) -> list[VirtualBatch]:
    """``n`` batches of the clone drawn with :data:`VARIATION`, ``kinetics`` overriding."""
    rng = np.random.default_rng(seed)
    return [virtual_batch(f"{prefix}{i}", draw_kinetics(CLONE, VARIATION, rng).with_values(
        **kinetics), RECIPE, vessel=VESSEL, rng=rng, dt_h=1.0) for i in range(n)]
