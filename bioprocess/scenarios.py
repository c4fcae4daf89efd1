"""Side-by-side runs of one batch under chosen faults ("what did this fault do?").

:func:`run_scenarios` simulates the same batch (same site, kinetics, recipe and sensor
noise) once per scenario, each scenario being a set of :class:`~bioprocess.faults.Fault`
objects, plus a fault-free baseline. It is how the plots and the tests show that each
fault moves the signals it should — and only those.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bioprocess.faults import Fault, FaultSchedule
from bioprocess.kinetics import KineticParameters
from bioprocess.plant import COARSE_SIGNALS, FINE_SIGNALS, PlantSetup, simulate_plant
from bioprocess.recipe import Recipe
from bioprocess.sites import SiteProfile, nominal_kinetics, nominal_recipe
from bioprocess.stacking import stack

BASELINE = "baseline"


@dataclass(frozen=True, eq=False)
class ScenarioResult:
    """One scenario: true states (every 15 min) and measured signals (every step).

    Both frames are in canonical units with a ``t_h`` column.
    """

    name: str
    faults: tuple[Fault, ...]
    truth: pd.DataFrame
    measured: pd.DataFrame

    @property
    def final_titre_g_l(self) -> float:
        return float(self.truth["titre"].iloc[-1])


def run_scenarios(
    profile: SiteProfile,
    scenarios: Mapping[str, Sequence[Fault]],
    *,
    seed: int = 0,
    days: float = 14.0,
    kinetics: KineticParameters | None = None,
    recipe: Recipe | None = None,
) -> dict[str, ScenarioResult]:
    """Simulate a fault-free baseline and each scenario of one nominal batch at ``profile``.

    Returns
    -------
    dict
        ``{"baseline": ..., name: ...}`` in the order given.
    """
    names = [BASELINE, *scenarios]
    fault_sets = [(), *[tuple(f) for f in scenarios.values()]]
    n = len(names)
    kin = kinetics or nominal_kinetics(profile)
    rec = recipe or nominal_recipe(profile, days)
    setup = PlantSetup(
        kinetics=stack([kin] * n),
        recipe=stack([rec] * n),
        hardware=stack([profile.hardware] * n),
        tuning=stack([profile.tuning] * n),
        sensors=stack([profile.sensors] * n),
    )
    run = simulate_plant(
        setup,
        FaultSchedule.from_faults(fault_sets),
        n_columns=n,
        rng=np.random.default_rng(seed),
        noise_group=np.zeros(n, dtype=int),
    )
    out = {}
    for j, (name, faults) in enumerate(zip(names, fault_sets, strict=True)):
        truth = pd.DataFrame(
            {"t_h": run.t_coarse, **{k: run.coarse[k][:, j] for k in COARSE_SIGNALS}}
        )
        measured = pd.DataFrame(
            {"t_h": run.t_fine, **{k: run.fine[k][:, j].astype(float) for k in FINE_SIGNALS}}
        )
        out[name] = ScenarioResult(name, faults, truth, measured)
    return out
