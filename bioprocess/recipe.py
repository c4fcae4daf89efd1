"""The operating recipe of a fed-batch run: seeding, set points, temperature shift, feeding.

A recipe is what a process engineer sets, as opposed to what the cells do (``kinetics``)
and what the equipment can deliver (``gas``, ``control``). Every field may hold one value
per stacked batch, so a what-if design is simply a recipe of arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from bioprocess.kinetics import Value


@dataclass(frozen=True, eq=False)
class Recipe:
    """Set points and schedules of one (or many stacked) fed-batch runs.

    Attributes
    ----------
    seed_density : 1e6 cells/mL at inoculation.
    initial_volume_l : broth volume at inoculation, L.
    temp_growth_c, temp_production_c : temperature set points before/after the shift, °C.
    temp_shift_h : time of the temperature shift, h after inoculation (beyond the run
        duration means no shift).
    do_setpoint_pct : dissolved-oxygen set point, % air saturation.
    ph_setpoint : pH set point.
    feed_start_h : start of continuous nutrient feeding, h.
    feed_pct_per_day : feed rate, % of the initial volume per day.
    duration_h : run length (harvest time), h; one value for all stacked batches.
    """

    seed_density: Value = 0.6
    initial_volume_l: Value = 1400.0
    temp_growth_c: Value = 36.8
    temp_production_c: Value = 33.0
    temp_shift_h: Value = 120.0
    do_setpoint_pct: Value = 40.0
    ph_setpoint: Value = 7.0
    feed_start_h: Value = 72.0
    feed_pct_per_day: Value = 3.6
    duration_h: float = field(default=336.0, metadata={"shared": True})

    def with_values(self, **values: Any) -> Recipe:
        """Return a copy with some fields replaced (scalars or per-batch arrays)."""
        return replace(self, **values)


def temperature_setpoint(recipe: Recipe, t_h: float) -> Value:
    """Temperature set point at time ``t_h`` (a step at ``temp_shift_h``), °C."""
    return np.where(t_h >= recipe.temp_shift_h, recipe.temp_production_c, recipe.temp_growth_c)


def feed_rate_l_per_h(recipe: Recipe, t_h: float) -> Value:
    """Commanded continuous feed rate at ``t_h``, L/h."""
    rate = np.asarray(recipe.feed_pct_per_day) / 100.0 * recipe.initial_volume_l / 24.0
    return np.where(t_h >= recipe.feed_start_h, rate, 0.0)
