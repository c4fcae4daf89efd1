"""Generate a multi-site manufacturing campaign with known, injected faults.

:func:`generate_campaign` plans batches at each site (bioreactor, start time in the site's
time zone, site batch id), draws batch-to-batch variation and faults, simulates every
batch and the fault-free counterfactual of every faulty batch in one stacked plant run,
then renders what each site would hold (:mod:`bioprocess.rendering`): online tags in its
own names and units, lab results under its lab codes, Raman spectra from its analyser,
phases, the deviations its QMS opened and the quality results — plus the ground truth.
Everything is in memory and deterministic for a seed; :mod:`twinfed.bundle_writer`
writes it to disk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, timedelta, timezone

import numpy as np

from bioprocess.degradation import degraded_parameters
from bioprocess.faults import Fault, FaultSchedule, FaultType, sample_faults
from bioprocess.kinetics import KineticParameters
from bioprocess.plant import PlantSetup, simulate_plant
from bioprocess.recipe import Recipe
from bioprocess.records import (
    ACME_PROCESS,
    BETA_PROCESS,
    BatchDeviation,
    BatchPlan,
    BatchRecord,
    Campaign,
    CampaignConfig,
    PhaseRecord,
    ProcessDefinition,
    QualityRecord,
    RamanData,
    format_id,
)
from bioprocess.rendering import render_batch
from bioprocess.sites import SiteProfile, builtin_site_profiles
from bioprocess.stacking import stack

__all__ = [
    "ACME_PROCESS",
    "BETA_PROCESS",
    "BatchDeviation",
    "BatchPlan",
    "BatchRecord",
    "Campaign",
    "CampaignConfig",
    "PhaseRecord",
    "ProcessDefinition",
    "QualityRecord",
    "RamanData",
    "generate_campaign",
]

Progress = Callable[[str, float], None]


def _site_tz(profile: SiteProfile) -> timezone:
    off = profile.utc_offset
    if off in ("Z", "+00:00", "UTC"):
        return UTC
    sign = 1 if off[0] == "+" else -1
    hh, mm = off[1:].split(":")
    return timezone(sign * timedelta(hours=int(hh), minutes=int(mm)))


def _plan(config: CampaignConfig, profiles: tuple[SiteProfile, ...]) -> list[BatchPlan]:
    plans = []
    codes = [p.code for p in profiles]
    beta_site = (
        codes.index(config.second_sponsor_site)
        if config.second_sponsor_site in codes
        else (len(profiles) - 1)
    )
    for si, prof in enumerate(profiles):
        tz = _site_tz(prof)
        n_main = config.batches_per_site
        n_beta = config.second_sponsor_batches if si == beta_site else 0
        n_br = len(prof.bioreactors)
        for k in range(n_main + n_beta):
            jitter = np.random.default_rng([config.seed, si, k, 1]).integers(0, 8 * 60)
            start = (
                config.start_utc
                + timedelta(days=2.3 * si)
                + timedelta(days=prof.turnaround_days * (k // n_br) + 3.1 * (k % n_br))
                + timedelta(minutes=int(jitter))
            ).astimezone(tz)
            proc = config.process if k < n_main else config.second_process
            plans.append(
                BatchPlan(
                    si,
                    k,
                    prof,
                    proc,
                    prof.bioreactors[k % n_br],
                    start,
                    format_id(prof.batch_id_format, prof.first_seq + k, start),
                    (config.seed, si, k),
                )
            )
    return plans


def _kinetics(plan: BatchPlan, rng: np.random.Generator) -> KineticParameters:
    base = KineticParameters()
    values: dict[str, float] = {}
    # Sorted: iterating a set of strings follows PYTHONHASHSEED, and each name draws from
    # the batch's random stream, so an unsorted loop breaks determinism across processes.
    for name in sorted(
        set(plan.profile.kinetics) | set(plan.process.kinetics) | set(plan.profile.variability)
    ):
        v = float(getattr(base, name))
        v *= plan.profile.kinetics.get(name, 1.0) * plan.process.kinetics.get(name, 1.0)
        sd = plan.profile.variability.get(name, 0.0)
        if sd:
            v *= float(np.exp(rng.normal(0.0, sd)))
        values[name] = v
    return base.with_values(**{k: values[k] for k in sorted(values)})


def _recipe(plan: BatchPlan, days: float, rng: np.random.Generator) -> Recipe:
    r = {**plan.profile.recipe, **plan.process.recipe}
    sd = plan.profile.recipe_sd
    r["seed_density"] = r["seed_density"] * float(
        np.exp(rng.normal(0.0, sd.get("seed_density", 0)))
    )
    for key in ("temp_shift_h", "feed_start_h"):
        r[key] = r[key] + float(rng.normal(0.0, sd.get(key, 0.0)))
    r["initial_volume_l"] = plan.profile.scale_l * plan.profile.initial_volume_fraction
    return Recipe(duration_h=days * 24.0, **{k: float(v) for k, v in r.items()})


def _faults(plan: BatchPlan, config: CampaignConfig, rng: np.random.Generator) -> tuple[Fault, ...]:
    faults = sample_faults(rng, config.fault_rate, plan.profile.fault_weights, config.days * 24.0)
    if plan.profile.tag("do2_pv") is None:  # a single DO probe: any drift is on it
        faults = tuple(
            replace(f, detail={**f.detail, "probe": 1}) if f.type is FaultType.DO_PROBE_DRIFT else f
            for f in faults
        )
    return faults


def generate_campaign(
    config: CampaignConfig | None = None,
    profiles: tuple[SiteProfile, ...] | None = None,
    progress: Progress | None = None,
) -> Campaign:
    """Simulate a multi-site campaign.

    Parameters
    ----------
    config : CampaignConfig, optional
        Sizes, fault rate, seed, duration; defaults to 3 sites × 8 batches.
    profiles : tuple of SiteProfile, optional
        Site profiles to draw from (default: the built-in ones); the first
        ``config.n_sites`` are used.
    progress : callable, optional
        ``progress(stage, fraction)`` with stage ``"simulate"`` then ``"render"``.

    Returns
    -------
    Campaign
    """
    config = config or CampaignConfig()
    profiles = profiles or builtin_site_profiles()
    if not 1 <= config.n_sites <= len(profiles):
        raise ValueError(
            f"n_sites must be between 1 and {len(profiles)} (site profiles available); "
            f"got {config.n_sites} instead"
        )
    if config.batches_per_site < 1:
        raise ValueError(f"batches_per_site must be >= 1; got {config.batches_per_site} instead")
    if not 2.0 <= config.days <= 30.0:
        raise ValueError(f"days must be within [2, 30]; got {config.days} instead")
    profiles = profiles[: config.n_sites]
    plans = _plan(config, profiles)

    kin, rec, flt, rngs = [], [], [], []
    for plan in plans:
        rng = np.random.default_rng(list(plan.rng_key))
        kin.append(_kinetics(plan, rng))
        rec.append(_recipe(plan, config.days, rng))
        flt.append(_faults(plan, config, rng))
        rngs.append(rng)

    hardware, sensors, levels = _equipment_state(plans, config)
    n_b = len(plans)
    faulty = [i for i, f in enumerate(flt) if f]
    columns = list(range(n_b)) + faulty  # counterfactual columns reuse the batch's inputs
    cf_column = {b: n_b + j for j, b in enumerate(faulty)}
    setup = PlantSetup(
        kinetics=stack([kin[c] for c in columns]),
        recipe=stack([rec[c] for c in columns]),
        hardware=stack([hardware[c] for c in columns]),
        tuning=stack([plans[c].profile.tuning for c in columns]),
        sensors=stack([sensors[c] for c in columns]),
    )
    schedule = FaultSchedule.from_faults([flt[c] for c in range(n_b)] + [()] * len(faulty))
    run = simulate_plant(
        setup,
        schedule,
        n_columns=len(columns),
        rng=np.random.default_rng([config.seed, 7919]),
        noise_group=np.asarray(columns),
        fine_columns=np.arange(n_b),
        progress=None if progress is None else (lambda f: progress("simulate", f)),
    )

    batches = []
    dev_seq: dict[str, int] = {}
    for i, plan in enumerate(plans):
        batches.append(
            render_batch(
                plan, config, rec[i], flt[i], run, i, cf_column.get(i, i), rngs[i], dev_seq
            )
        )
        if progress is not None:
            progress("render", (i + 1) / n_b)
    return Campaign(config, profiles, tuple(batches), levels)


def _equipment_state(
    plans: list[BatchPlan], config: CampaignConfig
) -> tuple[list, list, dict[str, dict[str, float]]]:
    """Per batch: vessel hardware and sensors, degraded where an asset degrades."""
    hardware = [p.profile.hardware for p in plans]
    sensors = [p.profile.sensors for p in plans]
    levels: dict[str, dict[str, float]] = {}
    if not config.degradations:
        return hardware, sensors, levels
    uses: dict[tuple[str, str], int] = {}
    for i in sorted(range(len(plans)), key=lambda j: (plans[j].start, plans[j].batch_id)):
        plan = plans[i]
        key = (plan.profile.code, plan.bioreactor)
        uses[key] = uses.get(key, 0) + 1
        hardware[i], sensors[i], active = degraded_parameters(
            config.degradations, key[0], key[1], uses[key], hardware[i], sensors[i]
        )
        if active:
            levels[plan.batch_id] = active
    return hardware, sensors, levels
