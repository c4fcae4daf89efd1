"""Equipment health, pure parts: indicators on known signals, trend statistics, drift
decisions on series with a known onset, and the simulator's degradation ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from bioprocess.campaign import CampaignConfig, generate_campaign
from bioprocess.degradation import Degradation, DegradationKind, parse_degradation
from bioprocess.equipment_health.drift import assess_drift
from bioprocess.equipment_health.indicators import BatchSignals, batch_indicators
from bioprocess.equipment_health.trend import mann_kendall, robust_sigma, theil_sen


def _known_batch(kla: float, do_offset: float = 0.0) -> BatchSignals:
    """A batch whose true kLa, probe offset and base-pump gain are known by construction."""
    t = np.arange(0.0, 100.0, 1 / 60)
    our = 2.0 * np.exp(-(((t - 60.0) / 20.0) ** 2))  # mmol/L/h
    temp = np.full_like(t, 37.0)  # c* at air saturation = 0.210 mM
    rpm = np.full_like(t, 100.0)
    air = np.full_like(t, 1.0)  # L/min, no O2 enrichment: normalisation factor 1
    # steady state: kLa (c*(1 - DO/100)) = OUR  =>  the DO the loop holds needs this kLa
    do_needed = 100.0 * (1.0 - our / (kla * 0.210))
    pv = np.where(t < 0.5, 100.0, do_needed) + do_offset
    ph_out = np.where(t > 50.0, 20.0, 0.0)  # % of range, base side
    base = np.cumsum(ph_out) * (1 / 60) * 0.01  # L; 0.01 L per %.h delivered
    return BatchSignals(
        {"dissolved-oxygen": (t, pv), "dissolved-oxygen-set-point": (t, do_needed),
         "oxygen-uptake-rate": (t, our), "agitation": (t, rpm), "air-flow": (t, air),
         "temperature": (t, temp), "ph-controller-output": (t, ph_out),
         "base-addition": (t, base), "dissolved-oxygen-controller-output": (t, ph_out + 30)},
        {"dissolved-oxygen": (t, np.where(t < 0.5, 100.0, do_needed))},
    )


def test_indicators_recover_known_kla_probe_offset_and_pump_gain() -> None:
    values = batch_indicators(_known_batch(kla=12.0, do_offset=3.0))
    # the probe reads 3 % high: the driving force looks smaller, the kLa estimate higher
    assert 12.1 < values["kla_reference"] < 14.0
    assert values["do_probe_bias"] == pytest.approx(3.0, abs=1e-9)
    assert values["do_start_offset"] == pytest.approx(3.0, abs=1e-9)
    assert values["base_pump_gain"] == pytest.approx(0.01, rel=0.01)
    assert values["do_controller_effort"] == pytest.approx(50.0)
    assert values["do_low_alarm_hours"] == 0.0  # the reading never left its set point
    dipped = batch_indicators(BatchSignals({**_known_batch(12.0).series,
                                            "dissolved-oxygen-set-point": (
                                                np.array([0.0, 100.0]), np.array([90.0, 90.0]))}))
    expected = np.sum(_known_batch(12.0).series["dissolved-oxygen"][1] < 80.0) / 60
    assert dipped["do_low_alarm_hours"] == pytest.approx(expected, abs=1 / 60)
    clean = batch_indicators(_known_batch(kla=12.0))
    assert clean["kla_reference"] == pytest.approx(12.0, rel=0.02)
    assert clean["do_probe_bias"] == 0.0


def test_indicators_need_their_inputs() -> None:
    t = np.arange(0.0, 10.0, 0.1)
    only_do = batch_indicators(BatchSignals({"dissolved-oxygen": (t, np.full_like(t, 99.0))}))
    assert only_do == {"do_start_offset": -1.0}


def test_mann_kendall_exact_p_values_and_theil_sen() -> None:
    assert mann_kendall([1, 2, 3, 4]).p_increasing == pytest.approx(1 / 24)
    assert mann_kendall([4, 3, 2, 1]).p_decreasing == pytest.approx(1 / 24)
    mixed = mann_kendall([1, 3, 2, 4])  # S = 4: P(S >= 4) = 4/24
    assert (mixed.s, mixed.p_increasing) == (4, pytest.approx(4 / 24))
    assert theil_sen([1.0, 2.0, 3.0, 10.0])[0] == 2.0
    rng = np.random.default_rng(3)
    rejections = np.mean([mann_kendall(rng.normal(size=8)).p_increasing < 0.05
                          for _ in range(2000)])
    assert 0.03 < rejections < 0.065  # the exact test holds its level


def test_robust_sigma_ignores_a_linear_trend() -> None:
    rng = np.random.default_rng(0)
    noise = [rng.normal(0, 0.5, 30) for _ in range(3)]
    flat = robust_sigma(noise)
    trending = robust_sigma([n + 2.0 * np.arange(30) for n in noise])
    assert flat == pytest.approx(trending)
    assert flat == pytest.approx(0.5, rel=0.3)


def test_drift_detected_soon_after_a_known_onset_with_evidence_and_time_to_limit() -> None:
    rng = np.random.default_rng(11)
    onset = 4  # 0-based batch index of the first degraded batch
    kla = 10.0 * (1 - 0.06 * np.maximum(np.arange(12) - onset + 1, 0)) + rng.normal(0, 0.1, 12)
    batches = [f"B{i:02d}" for i in range(12)]
    result = assess_drift("BR-1", "kla_reference", batches, kla, sigma=0.1)
    assert result.drifting and result.rule is not None
    assert onset <= result.detected_index <= onset + 3
    assert result.slope_per_batch < 0 and result.mk_p < 0.05
    assert result.values == tuple(kla) and result.batches == tuple(batches)
    # limit: 30 % below the baseline (first two batches); trend ~ -0.6 per batch
    assert result.limit == pytest.approx(0.7 * np.median(kla[:2]))
    assert result.batches_to_limit == 0.0 or result.batches_to_limit < 10
    assert "clean the sparger" in result.recommendation()


def test_no_drift_on_a_clean_asset() -> None:
    rng = np.random.default_rng(5)
    alarms = 0
    for _ in range(200):
        values = 10.0 + rng.normal(0, 0.1, 10)
        sigma = robust_sigma([values]) or 0.0
        alarms += assess_drift("BR-2", "kla_reference", [str(i) for i in range(10)], values,
                               sigma).drifting
    assert alarms <= 12  # 200 clean assets x 7 looks: a few percent at most


def test_probe_bias_drift_in_either_direction() -> None:
    up = assess_drift("R", "do_probe_bias", list("abcdef"), [0.1, 0.0, 1.5, 3.1, 4.4, 6.2], 0.2)
    down = assess_drift("R", "do_probe_bias", list("abcdef"), [0.0, -0.1, -1.6, -3.0, -4.5,
                                                                 -6.0], 0.2)
    assert up.drifting and down.drifting
    assert up.limit == 5.0 and down.limit == -5.0
    assert up.batches_to_limit == 0.0  # the fitted trend is past 5 % already


def test_degradation_ground_truth_and_default_off() -> None:
    deg = parse_degradation("SITE-A:BR-2000-1:sparger_fouling_progressive:2:0.2")
    assert deg == Degradation("SITE-A", "BR-2000-1", DegradationKind.SPARGER_FOULING, 2, 0.2)
    assert [deg.level(u) for u in (1, 2, 3)] == [0.0, 0.2, 0.4]
    with pytest.raises(ValueError, match="kind must be one of"):
        parse_degradation("SITE-A:BR-2000-1:rust:2:0.2")
    config = CampaignConfig(n_sites=1, batches_per_site=4, seed=5, days=2.0, fault_rate=0.0,
                            second_sponsor_batches=0)
    plain = generate_campaign(config)
    assert "equipment_degradations" not in plain.ground_truth()
    degraded = generate_campaign(CampaignConfig(**{**config.__dict__, "degradations": (deg,)}))
    truth = degraded.ground_truth()
    assert truth["equipment_degradations"][0]["onset_use"] == 2
    on_asset = [b.batch_id for b in degraded.batches if b.bioreactor == "BR-2000-1"]
    assert truth["degradation_levels"] == {on_asset[1]: {"sparger_fouling_progressive": 0.2}}
    # the clean reactor's batches are the same as without degradation; the degraded one
    # starts with 80 % of the clean sparger's kLa (plus the undegraded surface term)
    for a, b in zip(plain.batches, degraded.batches, strict=True):
        if a.bioreactor == "BR-2000-2":
            assert a.final_titre_g_l == b.final_titre_g_l
        elif a.batch_id == on_asset[1]:
            assert 0.8 < b.truth["kla"].iloc[0] / a.truth["kla"].iloc[0] < 0.85


def test_tag_roles_come_from_the_alignment_not_from_tag_names() -> None:
    from site_node.equipment.roles import load_roles, roles_from_alignment

    roles = load_roles("SITE-B", {"BR5_DO101": "mg/L", "BR5_DO102": "mg/L"})
    record, second = roles.roles["BR5_DO101"], roles.roles["BR5_DO102"]
    assert (record.parameter, record.of_record) == ("dissolved-oxygen", True)
    assert record.multiplier == pytest.approx(14.858841010401188)  # declared in SITE-B.ttl
    assert (second.parameter, second.of_record) == ("dissolved-oxygen", False)
    assert second.multiplier == record.multiplier
    t = np.array([0.0, 0.01])
    signals = roles.signals({"BR5_DO101": (t, np.array([2.0, 2.0])), "OTHER": (t, t)})
    assert signals.series["dissolved-oxygen"][1] == pytest.approx([29.7177, 29.7177], abs=1e-3)
    assert signals.redundant == {}
    # any site: a tag named anything, in a unit the alignment names but does not convert
    text = """
    @prefix tf: <https://w3id.org/twinfed/ontology#> .
    @prefix tfp: <https://w3id.org/twinfed/parameter/> .
    @prefix skos: <http://www.w3.org/2004/02/skos/core#> .
    <https://w3id.org/twinfed/site/SITE-Z/tag/q17> skos:exactMatch tfp:oxygen-uptake-rate ;
        tf:unitConversion [ tf:fromUnit "mmol/L/d" ] .
    <https://w3id.org/twinfed/site/SITE-Z/tag/zz> tf:siteLocalReason "second probe" ;
        tf:redundantMeasurementOf tfp:oxygen-uptake-rate .
    """
    z = roles_from_alignment("SITE-Z", text, {"q17": "mmol/L/d", "zz": "furlongs"})
    assert z.roles["q17"].multiplier == pytest.approx(1 / 24)
    assert "zz" not in z.roles and "cannot be converted" in z.notes[0]
