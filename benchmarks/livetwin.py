"""Benchmark the live twin: forecast error at 25/50/75 % of a batch, interval coverage,
stress tests, and the outcome of applying its recommendations.

Part A (generated campaign: plant simulator with control loops, faults, each site's own
tags, units and lab codes). Per site, the first ``--train`` batches are the site's history
and the rest are replayed as if live. The twin reads them through the site's alignment
(`site_node.live.reader.site_batch`), exactly as at a site. Reported at each fraction,
pooled over sites, against the measured final titre of the quality record:
  * live twin (hybrid), live twin (mechanistic core only),
  * baseline 1: the nominal twin, uncalibrated and open loop (default clone, the batch's recipe),
  * baseline 2: the site's mean titre of its history batches (+/- 1.645 sd),
  * the data-driven early yield prediction (bioprocess.models, PLS on generic features),
    trained on the same history batches;
MAE (g/L), MAPE (%), coverage of the 90 % interval, mean interval width, "I don't know" rate.

Part B (stress tests, model card): the held-out campaign batches damaged by noise, missing
samples and assay drift, plus hyper-metabolic virtual batches (out of domain).

Part C (recommendations, virtual batches with known truth): a site history with varied set
points gives the proven ranges; each test batch gets a recommendation at 25 % of its run,
which is applied to the true batch from that moment and compared with not applying it.
Counts better / worse / unchanged, and the realised against the predicted gain.

Usage: ``python -m benchmarks.livetwin [--sites 3] [--batches 10] [--train 6] [--members 32]``
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import timedelta
from typing import Any

import numpy as np

from bioprocess.campaign import CampaignConfig, generate_campaign
from bioprocess.kinetics import IX, KineticParameters
from bioprocess.live.card import model_card
from bioprocess.live.ensemble import EnsembleTwin, FilterSettings
from bioprocess.live.hybrid import Z90
from bioprocess.live.recommend import LEVERS, ProvenRange, recommend
from bioprocess.live.replay import CHECKPOINTS, HybridTwin, follow, site_prior, train_hybrid
from bioprocess.live.stress import stress_test
from bioprocess.live.virtual import draw_kinetics, finish_from, virtual_batch
from bioprocess.records import BatchRecord
from bioprocess.sites import (
    builtin_site_profiles,
    nominal_kinetics,
    nominal_recipe,
    vessel_capacity,
)
from bioprocess.twin import simulate_ideal
from site_node.live.reader import SiteBatch, site_batch
from site_node.live.vocabulary import site_vocabulary

try:  # the data-driven yield prediction of the models issue, when it is installed
    from bioprocess.models.yield_prediction import (
        BatchHistory,
        predict_final_titre,
        train_yield_models,
    )
except ImportError:  # pragma: no cover - reported as pending
    BatchHistory = None  # type: ignore[assignment,misc]


def _row(rec: BatchRecord) -> dict[str, Any]:
    """The batch as the site graph holds it (what the ingest bundle carries)."""
    frame = rec.process_data
    setpoints = []
    for tag in rec.site.tags:  # the manifest's tag dictionary: name, unit, kind
        if tag.kind == "setpoint" and tag.name in frame:
            ok = frame[tag.name].notna()
            setpoints.append({"tag": tag.name, "unit": tag.unit,
                              "t": frame.loc[ok, "t_h"].to_numpy(float),
                              "v": frame.loc[ok, tag.name].to_numpy(float)})
    lab = rec.lab_data
    return {
        "batch_id": rec.batch_id, "status": rec.status, "start": rec.start,
        "end": rec.start + timedelta(hours=rec.duration_h), "scale_l": rec.site.scale_l,
        "deviations": len(rec.deviations),
        "quality": [{"attribute": q.attribute, "value": q.value, "unit": q.unit,
                     "spec_low": q.spec_low, "spec_high": q.spec_high} for q in rec.quality],
        "setpoints": setpoints,
        "lab": lab[["analyte", "unit", "t_h", "value"]].to_numpy().tolist(),
    }


def _history(rec: BatchRecord, final: float) -> Any:
    frame = rec.process_data
    series = {c: (frame["t_h"].to_numpy(float), frame[c].to_numpy(float))
              for c in frame.columns if c != "t_h"}
    lab = {a: (g["t_h"].to_numpy(float), g["value"].to_numpy(float))
           for a, g in rec.lab_data.groupby("analyte")}
    return BatchHistory(rec.batch_id, rec.duration_h, series, lab, final)


def _nominal(batch: SiteBatch) -> float:
    run = simulate_ideal(KineticParameters(), batch.observations.recipe, n_batches=1, dt_h=1.0)
    return float(run.states[-1, IX["titre"], 0])


def _summary(rows: list[tuple[float, float, float, float, bool]]) -> dict[str, float]:
    """rows: (prediction, low, high, truth, dont_know)."""
    a = np.asarray(rows, dtype=float)
    err = a[:, 0] - a[:, 3]
    return {"n": len(rows), "mae_g_l": float(np.mean(np.abs(err))),
            "mape_pct": float(np.mean(np.abs(err) / a[:, 3]) * 100),
            "coverage": float(np.mean((a[:, 1] <= a[:, 3]) & (a[:, 3] <= a[:, 2]))),
            "mean_width_g_l": float(np.mean(a[:, 2] - a[:, 1])),
            "dont_know_rate": float(np.mean(a[:, 4]))}


def part_a(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    t0 = time.perf_counter()
    campaign = generate_campaign(CampaignConfig(
        n_sites=args.sites, batches_per_site=args.batches, seed=args.seed,
        fault_rate=args.fault_rate, second_sponsor_batches=0))
    print(f"campaign: {len(campaign.batches)} batches in {time.perf_counter() - t0:.1f} s")
    settings = FilterSettings(n_members=args.members, dt_h=1.0)
    methods = ("live twin (hybrid)", "live twin (mechanistic core)", "nominal twin",
               "site mean titre", "data-driven yield model")
    rows: dict[str, dict[float, list]] = {m: {f: [] for f in CHECKPOINTS} for m in methods}
    stress_all: dict[str, list[dict[str, float]]] = {}
    card: dict[str, Any] = {}
    t_twin = 0.0
    for profile in campaign.sites:
        recs = [r for r in campaign.batches if r.site.code == profile.code and r.status ==
                "complete"]
        vocab = site_vocabulary(profile.code)
        planned = float(np.median([r.duration_h for r in recs]))
        batches = [site_batch(_row(r), vocab, planned) for r in recs]
        history, live = batches[:args.train], batches[args.train:]
        finals = {b.batch_id: float(b.final_titre) for b in batches}
        t1 = time.perf_counter()
        base, tuned = site_prior([b.observations for b in history], settings=settings)
        twin = train_hybrid([b.observations for b in history], finals, base, tuned)
        core = HybridTwin(twin.base, twin.settings, None, None)
        updates = follow([b.observations for b in live], twin)
        core_updates = follow([b.observations for b in live], core)
        t_twin += time.perf_counter() - t1
        hist_titres = np.asarray([finals[b.batch_id] for b in history])
        mean, sd = float(hist_titres.mean()), float(hist_titres.std(ddof=1))
        yield_models = None
        if BatchHistory is not None:
            yield_models = train_yield_models(
                [_history(r, finals[r.batch_id]) for r in recs[:args.train]],
                target="final titre", unit="g/L", fractions=CHECKPOINTS)
        for b, rec in zip(live, recs[args.train:], strict=True):
            truth = finals[b.batch_id]
            nominal = _nominal(b)
            for k, f in enumerate(CHECKPOINTS):
                h = updates[b.batch_id][k].hybrid
                rows["live twin (hybrid)"][f].append((h.final_titre, h.low, h.high, truth,
                                                      not h.knows))
                c = core_updates[b.batch_id][k].hybrid
                rows["live twin (mechanistic core)"][f].append(
                    (c.mechanistic, c.mechanistic_low, c.mechanistic_high, truth, False))
                rows["nominal twin"][f].append((nominal, nominal, nominal, truth, False))
                rows["site mean titre"][f].append((mean, mean - Z90 * sd, mean + Z90 * sd,
                                                   truth, False))
                if yield_models is not None:
                    p = predict_final_titre(yield_models, _history(rec, truth).until(f))
                    rows["data-driven yield model"][f].append((p.value, p.low, p.high, truth,
                                                               False))
        ood = [virtual_batch(f"HYPER-{profile.code}-{i}", draw_kinetics(
            nominal_kinetics(profile), profile.variability, np.random.default_rng(i)
        ).with_values(overflow=1.6), nominal_recipe(profile, planned / 24.0),
            vessel=vessel_capacity(profile), rng=np.random.default_rng(100 + i), dt_h=1.0)
            for i in range(2)]
        finals.update({v.observations.batch_id: v.final_titre for v in ood})
        report = stress_test(twin, [b.observations for b in live], finals,
                             out_of_domain=[v.observations for v in ood])
        for name, r in report.items():
            stress_all.setdefault(name, []).append(r)
        card = model_card(twin)
    result: dict[str, Any] = {}
    print(f"\nA. final-titre forecast on {sum(len(v) for v in rows[methods[0]].values()) // 3} "
          f"held-out campaign batches (live twin time {t_twin:.1f} s)")
    print(f"{'method':32} {'at':>4} {'MAE g/L':>8} {'MAPE %':>7} {'cover90':>8} "
          f"{'width':>6} {'dont-know':>9}")
    for m in methods:
        for f in CHECKPOINTS:
            if not rows[m][f]:
                print(f"{m:32} {f:4.0%}  pending (not available)")
                continue
            s = _summary(rows[m][f])
            result.setdefault(m, {})[f"{f:.2f}"] = s
            print(f"{m:32} {f:4.0%} {s['mae_g_l']:8.3f} {s['mape_pct']:7.1f} "
                  f"{s['coverage']:8.0%} {s['mean_width_g_l']:6.2f} {s['dont_know_rate']:9.0%}")
    for f in CHECKPOINTS:
        live_mae = result["live twin (hybrid)"][f"{f:.2f}"]["mae_g_l"]
        for m in ("nominal twin", "site mean titre", "data-driven yield model"):
            if m in result:
                print(f"  at {f:.0%}: MAE ratio {m} / live twin = "
                      f"{result[m][f'{f:.2f}']['mae_g_l'] / live_mae:.2f}")
    stress = {name: {k: float(np.mean([r[k] for r in rs])) for k in rs[0]}
              for name, rs in stress_all.items()}
    print("\nB. stress tests (held-out batches, all fractions, mean over sites)")
    print(f"{'scenario':30} {'MAE g/L':>8} {'cover90':>8} {'width':>6} {'dont-know':>9} "
          f"{'confident-wrong':>15}")
    for name, s in stress.items():
        print(f"{name:30} {s['mae_g_l']:8.3f} {s['coverage']:8.0%} {s['mean_width_g_l']:6.2f} "
              f"{s['dont_know_rate']:9.0%} {s['confident_wrong_rate']:15.0%}")
    card["stress_tests"] = stress
    result["stress_tests"] = stress
    return result, card


def part_c(args: argparse.Namespace) -> dict[str, Any]:
    profile = builtin_site_profiles()[0]
    clone, vessel = nominal_kinetics(profile), vessel_capacity(profile)
    rng = np.random.default_rng(args.seed)
    variation = dict(profile.variability)
    spans = {"feed_pct_per_day": (3.0, 4.2), "temp_shift_h": (96.0, 144.0),
             "do_setpoint_pct": (30.0, 50.0)}

    def recipe() -> Any:
        return nominal_recipe(profile).with_values(
            **{k: float(rng.uniform(*v)) for k, v in spans.items()})

    history = [virtual_batch(f"H{i}", draw_kinetics(clone, variation, rng), recipe(),
                             vessel=vessel, rng=rng, dt_h=1.0) for i in range(args.train)]
    tests = [virtual_batch(f"T{i}", draw_kinetics(clone, variation, rng),
                           nominal_recipe(profile), vessel=vessel, rng=rng, dt_h=1.0)
             for i in range(args.rec_batches)]
    ranges = {k: ProvenRange(k, min(float(getattr(h.observations.recipe, k)) for h in history),
                             max(float(getattr(h.observations.recipe, k)) for h in history),
                             LEVERS[k], "observed min-max over the history batches",
                             tuple(h.observations.batch_id for h in history))
              for k in LEVERS}
    settings = FilterSettings(n_members=args.members, dt_h=1.0)
    base, tuned = site_prior([h.observations for h in history], clone, settings, vessel=vessel)
    twin = EnsembleTwin([t.observations for t in tests], base, tuned, vessel=vessel)
    t_now = 0.25 * float(twin.recipe.duration_h)
    twin.advance(t_now)
    outcomes = []
    t0 = time.perf_counter()
    for b, batch in enumerate(tests):
        rec = recommend(twin, b, ranges, levels=3)
        inside = all(ranges[k].contains(v) for k, (_, v) in rec.changes.items())
        kept = finish_from(batch, t_now, batch.observations.recipe, vessel=vessel)
        applied = finish_from(batch, t_now, batch.observations.recipe.with_values(
            **{k: v for k, (_, v) in rec.changes.items()}), vessel=vessel)
        outcomes.append((rec.action, rec.expected_gain, rec.gain_low, rec.gain_high,
                         applied - kept, inside))
    elapsed = time.perf_counter() - t0
    changed = [o for o in outcomes if o[0] == "change"]
    realised = np.asarray([o[4] for o in changed]) if changed else np.zeros(0)
    predicted = np.asarray([o[1] for o in changed]) if changed else np.zeros(0)
    res = {
        "batches": len(tests), "recommended_change": len(changed),
        "kept": len(outcomes) - len(changed),
        "better": int(np.sum(realised > 1e-3)), "worse": int(np.sum(realised < -1e-3)),
        "unchanged": int(np.sum(np.abs(realised) <= 1e-3)),
        "mean_realised_gain_g_l": float(realised.mean()) if changed else 0.0,
        "mean_predicted_gain_g_l": float(predicted.mean()) if changed else 0.0,
        "realised_within_predicted_90": float(np.mean([o[2] <= o[4] <= o[3] for o in changed]))
        if changed else float("nan"),
        "all_inside_proven_ranges": all(o[5] for o in outcomes),
        "seconds_per_recommendation": elapsed / len(tests),
    }
    print(f"\nC. recommendations at 25 % on {len(tests)} virtual batches (truth known)")
    for k, v in res.items():
        print(f"  {k:32} {v if not isinstance(v, float) else round(v, 3)}")
    return res


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=3)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--train", type=int, default=6)
    parser.add_argument("--members", type=int, default=32)
    parser.add_argument("--rec-batches", type=int, default=12)
    parser.add_argument("--fault-rate", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--card", help="write the model card (JSON) here")
    args = parser.parse_args(argv)
    forecasts, card = part_a(args)
    recs = part_c(args)
    if args.card:
        with open(args.card, "w", encoding="utf-8") as fh:
            json.dump(card, fh, indent=2, default=str)
    return {"forecast": forecasts, "recommendations": recs, "model_card": card}


if __name__ == "__main__":
    main()
