"""The live twin on virtual batches with known truth: it converges, narrows, says "I don't
know" when it should, and never recommends outside the proven ranges."""

from __future__ import annotations

import numpy as np
import pytest

from bioprocess.live.card import model_card
from bioprocess.live.ensemble import EnsembleTwin, FilterSettings
from bioprocess.live.forecast import forecast
from bioprocess.live.recommend import LEVERS, ProvenRange, recommend
from bioprocess.live.replay import follow, train_hybrid
from bioprocess.live.stress import drift, missing, more_noise, stress_test
from bioprocess.live.virtual import VirtualBatch, finish_from
from tests.virtual_site import CLONE, RECIPE, VESSEL, virtual_batches

SETTINGS = FilterSettings(n_members=32, dt_h=1.0, seed=3)


@pytest.fixture(scope="module")
def site_history() -> list[VirtualBatch]:
    return virtual_batches(8, seed=21)


@pytest.fixture(scope="module")
def hybrid(site_history):  # noqa: ANN001, ANN201
    past = site_history[:5]
    return train_hybrid([b.observations for b in past],
                        {b.observations.batch_id: b.final_titre for b in past}, CLONE, SETTINGS,
                        vessel=VESSEL)


def test_synchronisation_converges_on_the_true_parameters_and_narrows() -> None:
    (batch,) = virtual_batches(1, seed=5, mu_max=CLONE.mu_max * 0.88, qp_beta=CLONE.qp_beta * 1.12)
    twin = EnsembleTwin([batch.observations], CLONE, SETTINGS, vessel=VESSEL)
    sds, errors, widths = [], [], []
    for t in (0.0, 72.0, 168.0, 264.0):
        twin.advance(t)
        est = twin.parameter_summary(0)
        for name in ("mu_max", "qp_beta"):
            sds.append((t, name, est[name]["log_sd"]))
        errors.append(abs(np.log(est["mu_max"]["estimate"] / batch.kinetics.mu_max)))
        lo, hi = forecast(twin)[0].final_titre_interval()
        widths.append(hi - lo)
    final = twin.parameter_summary(0)
    for name in ("mu_max", "qp_beta"):
        truth = float(getattr(batch.kinetics, name))
        assert final[name]["low"] <= truth <= final[name]["high"], name
        first = next(sd for t, n, sd in sds if n == name and t == 0.0)
        last = next(sd for t, n, sd in reversed(sds) if n == name)
        assert last < 0.6 * first  # the data narrowed the estimate
    assert errors[-1] < errors[0]  # the prior was 12 % off; the estimate moved towards truth
    assert widths[-1] < 0.5 * widths[0]  # and so did the forecast of final titre
    lo, hi = forecast(twin)[0].final_titre_interval()
    assert lo <= batch.final_titre <= hi


def test_missing_samples_only_widen_the_forecast(site_history) -> None:  # noqa: ANN001
    batch = site_history[6]
    sparse = missing(0.6)(batch.observations, np.random.default_rng(0))
    full, thin = (EnsembleTwin([o], CLONE, SETTINGS, vessel=VESSEL)
                  for o in (batch.observations, sparse))
    for twin in (full, thin):
        twin.advance(168.0)
    (f_full,), (f_thin,) = forecast(full), forecast(thin)
    assert f_thin.n_assimilated < f_full.n_assimilated
    assert f_thin.final_titre_sd >= 0.8 * f_full.final_titre_sd
    lo, hi = f_thin.final_titre_interval()
    assert lo <= batch.final_titre <= hi


def test_an_out_of_domain_batch_makes_the_twin_say_it_does_not_know(hybrid, site_history
                                                                     ) -> None:  # noqa: ANN001
    hyper = virtual_batches(2, seed=77, prefix="HYPER", overflow=1.6)  # a hyper-metabolic clone
    updates = follow([b.observations for b in hyper], hybrid, (0.5, 0.75))
    for batch in hyper:
        last = updates[batch.observations.batch_id][-1].hybrid
        assert not last.knows and last.status == "I don't know"
        assert last.flags
    normal = follow([site_history[7].observations], hybrid, (0.5, 0.75))
    assert all(u.hybrid.knows for u in normal[site_history[7].observations.batch_id])


def test_stress_report_counts_confident_wrong_answers(hybrid, site_history) -> None:  # noqa: ANN001
    held_out = site_history[5:7]
    report = stress_test(
        hybrid, [b.observations for b in held_out],
        {b.observations.batch_id: b.final_titre for b in held_out},
        scenarios={"noise x3": more_noise(3.0), "titre drift": drift("titre", 3.0)},
        fractions=(0.5,))
    assert set(report) == {"noise x3", "titre drift"}
    for row in report.values():
        assert row["n_forecasts"] == 2
        assert 0.0 <= row["confident_wrong_rate"] <= 1.0 - row["coverage"] + 1e-9
    card = model_card(hybrid, report)
    assert card["stress_tests"] == report
    assert card["parts"]["mechanistic_core"]["assumptions"]
    assert card["parts"]["residual_correction"]["inputs"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_recommendations_never_leave_the_proven_ranges(seed: int) -> None:
    rng = np.random.default_rng(seed)
    lows = {"feed_pct_per_day": 3.0 + rng.uniform(0, 0.4),
            "temp_shift_h": 96.0 + rng.uniform(0, 24), "do_setpoint_pct": 25.0 + rng.uniform(0, 10)}
    ranges = {k: ProvenRange(k, lo, lo + {"feed_pct_per_day": 0.8, "temp_shift_h": 48.0,
                                          "do_setpoint_pct": 25.0}[k], LEVERS[k], "test", ())
              for k, lo in lows.items()}
    batches = virtual_batches(1, seed=100 + seed)
    twin = EnsembleTwin([b.observations for b in batches], CLONE,
                        FilterSettings(n_members=10, dt_h=2.0, seed=seed), vessel=VESSEL)
    t_now = float(rng.uniform(40.0, 110.0))
    twin.advance(t_now)
    for b, batch in enumerate(batches):
        rec = recommend(twin, b, ranges, levels=2)
        for lever, (_, proposed) in rec.changes.items():
            assert ranges[lever].contains(proposed), (lever, proposed)
        if "temp_shift_h" in rec.changes:
            assert rec.changes["temp_shift_h"][1] > t_now  # never a shift in the past
        if rec.action == "change":
            assert rec.p_improve >= 0.8 and rec.expected_gain > 0
            applied = batch.observations.recipe.with_values(
                **{k: v for k, (_, v) in rec.changes.items()})
            # applied to the true batch from the same moment, the change is judged honestly
            assert np.isfinite(finish_from(batch, t_now, applied, vessel=VESSEL))


def test_the_twin_refuses_to_recommend_when_it_does_not_know() -> None:
    (batch,) = virtual_batches(1, seed=9)
    twin = EnsembleTwin([batch.observations], CLONE, FilterSettings(n_members=10, dt_h=2.0),
                        vessel=VESSEL)
    twin.advance(200.0)
    ranges = {"do_setpoint_pct": ProvenRange("do_setpoint_pct", 30, 50, "%", "test", ())}
    rec = recommend(twin, 0, ranges, knows=False)
    assert rec.action == "keep" and not rec.changes
    assert "out of domain" in rec.reason


def test_the_twin_tells_overflow_metabolism_from_a_feed_pump_delivering_short() -> None:
    """Both lower the glucose; only overflow makes lactate accumulate, only a short feed
    starves glutamine too. Estimating both, the twin puts each batch's deficit where its
    data say (known truth: virtual batches)."""
    hyper, pump, normal = (
        virtual_batches(1, seed=7, prefix="H", overflow=1.5)[0],
        virtual_batches(1, seed=8, prefix="P", feed_delivery=0.6)[0],
        virtual_batches(1, seed=9, prefix="N")[0])
    settings = FilterSettings(n_members=64, dt_h=1.0, seed=3,
                              parameters=(*SETTINGS.parameters, "overflow", "feed_delivery"),
                              prior_log_sd=0.3)
    twin = EnsembleTwin([hyper.observations, pump.observations, normal.observations], CLONE,
                        settings, vessel=VESSEL)
    twin.advance(0.5 * float(RECIPE.duration_h))
    est = [{n: twin.parameter_summary(b)[n]["estimate"] for n in ("overflow", "feed_delivery")}
           for b in range(3)]
    hyper_est, pump_est, normal_est = est
    assert hyper_est["overflow"] > 1.25 and hyper_est["feed_delivery"] > 0.9, est
    assert pump_est["feed_delivery"] < 0.7, est
    assert pump_est["overflow"] < hyper_est["overflow"] - 0.2, est
    assert 0.85 < normal_est["overflow"] < 1.15 and normal_est["feed_delivery"] > 0.85, est


def test_a_forecast_runs_the_recipe_as_commanded_from_now_on() -> None:
    """The feed delivered so far (estimated) corrects the states; the forecast assumes the
    pump delivers its set point from now on, unless told the departure persists."""
    (pump,) = virtual_batches(1, seed=8, prefix="P", feed_delivery=0.6)
    parameters = (*SETTINGS.parameters, "overflow", "feed_delivery")
    finals = {}
    for past_only in ((), ("feed_delivery",)):
        settings = FilterSettings(n_members=64, dt_h=1.0, seed=3, parameters=parameters,
                                  prior_log_sd=0.3, past_only=past_only)
        twin = EnsembleTwin([pump.observations], CLONE, settings, vessel=VESSEL)
        twin.advance(0.5 * float(RECIPE.duration_h))
        assert twin.parameter_summary(0)["feed_delivery"]["estimate"] < 0.7
        (fc,) = forecast(twin)
        finals[past_only] = fc.states["titre"].median[-1]
    assert finals[("feed_delivery",)] > 1.05 * finals[()], finals
