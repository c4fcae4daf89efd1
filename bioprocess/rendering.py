"""Render what a site records for one simulated batch.

From the stacked plant run, :func:`render_batch` builds the site's view of a batch: online
tags in the site's names, units, resolution and sampling intervals; offline results under
its lab codes with assay error; Raman spectra from its analyser; phases; the deviations its
QMS opened (with site-formatted ids and CAPA); quality results — and keeps the true and
counterfactual trajectories next to them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import numpy as np
import pandas as pd

from bioprocess.deviations import record_deviations
from bioprocess.faults import Fault
from bioprocess.plant import COARSE_SIGNALS, PlantRun
from bioprocess.raman import simulate_spectra
from bioprocess.recipe import Recipe
from bioprocess.records import (
    BatchDeviation,
    BatchPlan,
    BatchRecord,
    CampaignConfig,
    PhaseRecord,
    QualityRecord,
    RamanData,
    format_id,
)
from bioprocess.sites import ANALYTE_QUANTITY, SIGNAL_QUANTITY
from bioprocess.units import converter


def _lab_times(plan: BatchPlan, duration_h: float) -> np.ndarray:
    local = plan.start
    h0 = local.hour + local.minute / 60.0
    first = (plan.profile.lab_hour_local - h0) % 24.0
    if first < 2.0:
        first += 24.0
    daily = np.arange(first, duration_h - 1.0, 24.0)
    return np.concatenate([[0.25], daily, [duration_h]])


def _truth_frame(run: PlantRun, column: int) -> pd.DataFrame:
    data = {"t_h": run.t_coarse}
    data.update({k: run.coarse[k][:, column] for k in COARSE_SIGNALS})
    return pd.DataFrame(data)


def _process_frame(plan: BatchPlan, run: PlantRun, column: int) -> pd.DataFrame:
    n_steps = run.t_fine.size - 1
    dt_min = float(run.t_fine[1] - run.t_fine[0]) * 60.0
    per_tag = []
    for tag in plan.profile.tags:
        stride = int(round(tag.every_min / dt_min))
        if stride < 1 or abs(stride * dt_min - tag.every_min) > 1e-9:
            raise ValueError(
                f"{plan.profile.code} tag {tag.name}: every_min must be a whole multiple of "
                f"{dt_min:g} min; got {tag.every_min} instead"
            )
        per_tag.append(np.arange(0, n_steps + 1, stride))
    rows = np.unique(np.concatenate(per_tag))
    data: dict[str, np.ndarray] = {"t_h": run.t_fine[rows]}
    for tag, steps in zip(plan.profile.tags, per_tag, strict=True):
        col = np.full(rows.size, np.nan)
        idx = np.searchsorted(rows, steps)  # rows is sorted and holds every step
        raw = run.fine[tag.signal][steps, column].astype(np.float64)
        col[idx] = np.round(converter(SIGNAL_QUANTITY[tag.signal], tag.unit)(raw), tag.decimals)
        data[tag.name] = col
    return pd.DataFrame(data)


def _lab_frame(
    plan: BatchPlan,
    truth: pd.DataFrame,
    t_lab: np.ndarray,
    rng: np.random.Generator,
    base_eq_per_l: float,
) -> tuple[pd.DataFrame, dict[str, tuple[np.ndarray, np.ndarray]]]:
    t = truth["t_h"].to_numpy()

    def at(name: str, times: np.ndarray) -> np.ndarray:
        return np.interp(times, t, truth[name].to_numpy())

    rows = []
    canonical: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for a in plan.profile.analytes:
        day = np.floor(t_lab / 24.0 + 1e-9)
        keep = (t_lab >= a.from_day * 24.0) & (np.mod(day - a.from_day, a.every_days) < 1e-9)
        keep |= t_lab == t_lab[-1]
        times = t_lab[keep]
        if a.analyte == "vcd":
            true = at("xv", times)
        elif a.analyte == "viability":
            xv, xd = at("xv", times), at("xd", times)
            true = 100.0 * xv / np.maximum(xv + xd, 1e-9)
        elif a.analyte == "ph":
            true = at("ph_true", times) + 0.01
        elif a.analyte == "osmolality":
            na = at("base_total_l", times) * base_eq_per_l / at("volume", times)
            true = (
                250.0
                + at("glc", times)
                + at("lac", times)
                + at("amm", times)
                + at("aa", times)
                + 1.8 * na
            )
        else:
            true = at(
                {
                    "glc": "glc",
                    "lac": "lac",
                    "gln": "gln",
                    "amm": "amm",
                    "titre": "titre",
                    "pco2": "pco2",
                }[a.analyte],
                times,
            )
        measured = true * (1.0 + a.cv * rng.standard_normal(times.size))
        measured = measured + a.sd * rng.standard_normal(times.size)
        measured = np.maximum(measured, 0.0)
        if a.analyte == "viability":
            measured = np.minimum(measured, 100.0)
        canonical[a.analyte] = (times, measured)
        values = np.round(converter(ANALYTE_QUANTITY[a.analyte], a.unit)(measured), a.decimals)
        rows.append(
            pd.DataFrame({"t_h": times, "analyte": a.code, "value": values, "unit": a.unit})
        )
    lab = pd.concat(rows, ignore_index=True).sort_values(["t_h", "analyte"], kind="stable")
    return lab.reset_index(drop=True), canonical


def _phases(
    recipe: Recipe, duration_h: float, lab: Mapping[str, tuple[np.ndarray, np.ndarray]]
) -> tuple[PhaseRecord, ...]:
    shift = float(recipe.temp_shift_h)
    if shift >= duration_h:
        return (PhaseRecord("growth", 0.0, duration_h),)
    t_v, via = lab["viability"]
    low = np.flatnonzero((t_v > shift) & (via < 90.0))
    decline = float(t_v[low[0]]) if low.size and t_v[low[0]] < duration_h else None
    phases = [PhaseRecord("growth", 0.0, shift)]
    if decline is None:
        phases.append(PhaseRecord("production", shift, duration_h))
    else:
        phases += [
            PhaseRecord("production", shift, decline),
            PhaseRecord("decline", decline, duration_h),
        ]
    return tuple(phases)


def _quality(
    plan: BatchPlan, lab: Mapping[str, tuple[np.ndarray, np.ndarray]]
) -> tuple[QualityRecord, ...]:
    out = []
    spec = {a.analyte: a for a in plan.profile.analytes}
    if "titre" in lab:
        a = spec["titre"]
        conv = converter("titre", a.unit)
        out.append(
            QualityRecord(
                "final_titre",
                float(np.round(conv(lab["titre"][1][-1]), a.decimals)),
                a.unit,
                float(conv(plan.process.titre_spec_low_g_l)),
                None,
            )
        )
    if "viability" in lab:
        out.append(
            QualityRecord(
                "viability_at_harvest",
                float(np.round(lab["viability"][1][-1], 1)),
                "%",
                plan.process.viability_spec_low_pct,
                None,
            )
        )
    return tuple(out)


def render_batch(
    plan: BatchPlan,
    config: CampaignConfig,
    recipe: Recipe,
    faults: tuple[Fault, ...],
    run: PlantRun,
    column: int,
    cf_column: int,
    rng: np.random.Generator,
    dev_seq: dict[str, int],
) -> BatchRecord:
    duration = config.days * 24.0
    truth = _truth_frame(run, column)
    counterfactual = _truth_frame(run, cf_column) if cf_column != column else truth
    t_lab = _lab_times(plan, duration)
    lab, lab_canonical = _lab_frame(
        plan, truth, t_lab, rng, float(plan.profile.hardware.base_eq_per_l)
    )
    fine_cols = (
        "do_pv",
        "do_sp",
        "do2_pv",
        "ph_pv",
        "ph_sp",
        "temp_pv",
        "temp_sp",
        "rpm_pv",
        "rpm_sp",
        "feed_sp_lph",
        "feed_total_l",
        "weight_kg",
    )
    signals = {k: run.fine[k][:, column].astype(np.float64) for k in fine_cols}
    records = record_deviations(
        run.t_fine, signals, lab_canonical, plan.profile, float(recipe.temp_shift_h), faults, rng
    )
    devs = []
    for r in records:
        code = plan.profile.code
        seq = dev_seq.get(code, 0) + 1
        dev_seq[code] = seq
        opened = plan.start + timedelta(hours=r.opened_h)
        dev_id = format_id(plan.profile.deviation_id_format, 100 + seq, opened)
        capa_ids = tuple(
            format_id(plan.profile.capa_id_format, 500 + seq * 3 + j, opened)
            for j in range(len(r.capa))
        )
        devs.append(BatchDeviation(dev_id, r, capa_ids))
    every = config.raman_every_h or plan.profile.raman.every_h
    t_raman = np.arange(0.5, duration, every)
    t = truth["t_h"].to_numpy()
    states = {
        k: np.interp(t_raman, t, truth[k].to_numpy())
        for k in ("glc", "lac", "gln", "amm", "aa", "titre", "xv", "xd")
    }
    wn, spectra = simulate_spectra(states, t_raman, plan.profile.raman, rng)
    return BatchRecord(
        batch_id=plan.batch_id,
        site=plan.profile,
        process=plan.process,
        bioreactor=plan.bioreactor,
        start=plan.start,
        duration_h=duration,
        status="complete",
        recipe=recipe,
        faults=faults,
        process_data=_process_frame(plan, run, column),
        lab_data=lab,
        raman=RamanData(plan.profile.raman.instrument_id, t_raman, wn, spectra),
        phases=_phases(recipe, duration, lab_canonical),
        deviations=tuple(devs),
        quality=_quality(plan, lab_canonical),
        truth=truth,
        counterfactual=counterfactual,
    )
