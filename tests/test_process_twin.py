"""The process twin: faults do what the ground truth says, campaigns are realistic,
deterministic, and written as bundles that follow docs/ingest-format.md."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bioprocess.campaign import CampaignConfig, generate_campaign
from bioprocess.faults import Fault, FaultType
from bioprocess.kinetics import MOLAR_MASS_G_PER_MMOL
from bioprocess.scenarios import BASELINE, run_scenarios
from bioprocess.sites import builtin_site_profiles, parse_site_profile
from twinfed.bundle_writer import write_campaign
from twinfed.simulate_cli import simulate_app

F = FaultType
DAYS = 10.0


@pytest.fixture(scope="module")
def scenarios():
    """One nominal Site A batch, fault-free and under each kind of fault (same noise)."""
    site = builtin_site_profiles()[0]
    return run_scenarios(
        site,
        {
            "drift_redundant": [Fault(F.DO_PROBE_DRIFT, 60, -15, None, {"ramp_h": 24, "probe": 2})],
            "drift_control": [Fault(F.DO_PROBE_DRIFT, 60, -15, None, {"ramp_h": 24, "probe": 1})],
            "lag": [Fault(F.DO_PROBE_LAG, 48, 45, None)],
            "ph_offset": [Fault(F.PH_PROBE_OFFSET, 24, 0.15, None)],
            "fouling": [Fault(F.SPARGER_FOULING, 60, 0.65, None, {"ramp_h": 24})],
            "feed": [Fault(F.FEED_PUMP_UNDER_DELIVERY, 80, 0.5, None)],
            "temperature": [Fault(F.TEMPERATURE_EXCURSION, 70, 2.5, 80)],
            "media": [Fault(F.POOR_MEDIA_LOT, 0, 0.25, None)],
            "agitation": [Fault(F.AGITATION_FAILURE, 100, 0.6, 130)],
            "base": [Fault(F.BASE_PUMP_FAILURE, 70, 1.0, 110)],
            "hyper": [Fault(F.HYPER_METABOLIC, 24, 1.6, None, {"ramp_h": 24})],
        },
        seed=3,
        days=DAYS,
    )


def _window(frame: pd.DataFrame, col: str, start_h: float, end_h: float) -> pd.Series:
    sel = (frame["t_h"] >= start_h) & (frame["t_h"] < end_h)
    return frame.loc[sel, col]


def test_fault_free_batch_looks_like_cho_fed_batch(scenarios):
    t = scenarios[BASELINE].truth
    lac = t["lac"] * MOLAR_MASS_G_PER_MMOL["lactate"]
    assert 10.0 <= t["xv"].max() <= 30.0
    assert 1.0 <= t["titre"].iloc[-1] <= 8.0
    assert 1.0 <= lac.max() <= 4.5
    assert lac.iloc[-1] < 0.5 * lac.max()  # the shift from production to consumption
    viability = t["xv"] / (t["xv"] + t["xd"])
    assert viability.iloc[: len(t) // 3].min() > 0.9


def test_feed_pump_under_delivery_lowers_cumulative_feed_and_titre(scenarios):
    base, bad = scenarios[BASELINE].truth, scenarios["feed"].truth
    assert bad["feed_added"].iloc[-1] < 0.8 * base["feed_added"].iloc[-1]
    assert bad["titre"].iloc[-1] < base["titre"].iloc[-1] - 0.05
    measured = scenarios["feed"].measured
    # the pump set point did not change; the balance shows the shortfall
    sp = _window(measured, "feed_sp_lph", 100, 200).mean()
    assert sp == pytest.approx(
        _window(scenarios[BASELINE].measured, "feed_sp_lph", 100, 200).mean()
    )


def test_do_probe_drift_on_redundant_probe_moves_measured_not_true_do(scenarios):
    m, b = scenarios["drift_redundant"].measured, scenarios[BASELINE].measured
    assert _window(m, "do2_pv", 150, 240).mean() == pytest.approx(
        _window(b, "do2_pv", 150, 240).mean() - 15, abs=2
    )
    assert _window(m, "do_true", 150, 240).mean() == pytest.approx(
        _window(b, "do_true", 150, 240).mean(), abs=1
    )


def test_do_probe_drift_on_control_probe_moves_true_do_while_reading_holds(scenarios):
    m, b = scenarios["drift_control"].measured, scenarios[BASELINE].measured
    assert _window(m, "do_pv", 150, 240).mean() == pytest.approx(
        _window(b, "do_pv", 150, 240).mean(), abs=1.5
    )
    assert _window(m, "do_true", 150, 240).mean() > _window(b, "do_true", 150, 240).mean() + 10


def test_do_probe_lag_smooths_the_reading_and_hides_true_do_swings(scenarios):
    m, b = scenarios["lag"].measured, scenarios[BASELINE].measured
    rough = float(np.std(np.diff(_window(m, "do_pv", 60, 200))))
    rough_base = float(np.std(np.diff(_window(b, "do_pv", 60, 200))))
    assert rough < 0.8 * rough_base
    hidden = (_window(m, "do_true", 60, 200) - _window(m, "do_pv", 60, 200)).abs().mean()
    hidden_base = (_window(b, "do_true", 60, 200) - _window(b, "do_pv", 60, 200)).abs().mean()
    assert hidden > hidden_base


def test_sparger_fouling_raises_do_controller_output(scenarios):
    m, b = scenarios["fouling"].measured, scenarios[BASELINE].measured
    assert _window(m, "do_out", 120, 240).mean() > _window(b, "do_out", 120, 240).mean() + 10
    assert (
        scenarios["fouling"].truth["kla"].iloc[-1] < 0.6 * scenarios[BASELINE].truth["kla"].iloc[-1]
    )


def test_hyper_metabolic_raises_lactate_and_our_and_lowers_titre(scenarios):
    h, b = scenarios["hyper"].truth, scenarios[BASELINE].truth
    assert h["lac"].max() > 1.5 * b["lac"].max()
    assert _window(h, "our", 48, 110).mean() > 1.2 * _window(b, "our", 48, 110).mean()
    assert h["titre"].iloc[-1] < 0.8 * b["titre"].iloc[-1]


def test_base_pump_failure_lets_ph_fall_while_controller_saturates(scenarios):
    m, b = scenarios["base"].measured, scenarios[BASELINE].measured
    assert _window(m, "ph_pv", 70, 110).min() < _window(b, "ph_pv", 70, 110).min() - 0.1
    assert _window(m, "ph_out", 90, 110).max() == pytest.approx(100.0)
    added = _window(m, "base_total_l", 70, 110)
    assert added.iloc[-1] == pytest.approx(added.iloc[0])


def test_temperature_excursion_moves_temperature_and_saturates_controller(scenarios):
    m, b = scenarios["temperature"].measured, scenarios[BASELINE].measured
    assert _window(m, "temp_pv", 70, 80).max() > _window(b, "temp_pv", 70, 80).max() + 1.5
    assert _window(m, "temp_out", 72, 80).min() == pytest.approx(-100.0)


def test_agitation_failure_lowers_speed_and_raises_do_output(scenarios):
    m, b = scenarios["agitation"].measured, scenarios[BASELINE].measured
    assert _window(m, "rpm_pv", 101, 129).mean() < 0.6 * _window(b, "rpm_pv", 101, 129).mean()
    assert _window(m, "do_out", 101, 129).mean() > _window(b, "do_out", 101, 129).mean() + 5


def test_ph_probe_offset_shows_against_true_ph(scenarios):
    m = scenarios["ph_offset"].measured
    gap = _window(m, "ph_pv", 30, 200) - _window(m, "ph_true", 30, 200)
    assert gap.mean() == pytest.approx(0.15, abs=0.01)


def test_poor_media_lot_slows_growth(scenarios):
    assert scenarios["media"].truth["xv"].max() < 0.9 * scenarios[BASELINE].truth["xv"].max()


@pytest.fixture(scope="module")
def campaign():
    config = CampaignConfig(
        n_sites=3,
        batches_per_site=2,
        fault_rate=0.6,
        seed=11,
        days=6.0,
        second_sponsor_batches=1,
    )
    return generate_campaign(config)


@pytest.fixture(scope="module")
def bundle_dir(campaign, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("campaign")
    write_campaign(campaign, out)
    return out


def test_campaign_ground_truth_matches_batches(campaign):
    truth = campaign.ground_truth()
    assert len(truth["batches"]) == len(campaign.batches) == 3 * 2 + 1
    for entry, batch in zip(truth["batches"], campaign.batches, strict=True):
        assert entry["batch_id"] == batch.batch_id
        assert entry["final_titre_g_l"] == pytest.approx(batch.truth["titre"].iloc[-1], abs=1e-3)
        if not batch.faults:
            assert entry["counterfactual_final_titre_g_l"] == entry["final_titre_g_l"]
        for fault in entry["faults"]:
            assert 0 <= fault["start_h"] <= 6 * 24
            assert fault["type"] in {k.value for k in FaultType}
        linked = {d["fault_type"] for d in entry["deviations"]} - {None}
        assert linked <= {f["type"] for f in entry["faults"]}


def test_same_seed_gives_the_same_campaign_and_another_seed_does_not():
    def small(seed: int):
        return generate_campaign(
            CampaignConfig(
                n_sites=2,
                batches_per_site=1,
                fault_rate=1.0,
                seed=seed,
                days=2.0,
                second_sponsor_batches=0,
            )
        )

    a, b, c = small(5), small(5), small(6)
    assert a.ground_truth() == b.ground_truth()
    for x, y in zip(a.batches, b.batches, strict=True):
        pd.testing.assert_frame_equal(x.process_data, y.process_data)
        pd.testing.assert_frame_equal(x.lab_data, y.lab_data)
        np.testing.assert_array_equal(x.raman.spectra, y.raman.spectra)
    assert a.ground_truth() != c.ground_truth()


def test_sites_differ_in_scale_units_and_tag_names(campaign):
    by_site = {b.site.code: b for b in campaign.batches}
    a, b = by_site["SITE-A"], by_site["SITE-B"]
    assert a.site.scale_l != b.site.scale_l
    temp_a, temp_b = a.site.tag("temp_pv"), b.site.tag("temp_pv")
    assert (temp_a.unit, temp_b.unit) == ("degC", "K")
    assert temp_a.name != temp_b.name
    assert a.process_data[temp_a.name].dropna().between(30, 40).all()
    assert b.process_data[temp_b.name].dropna().between(303, 313).all()
    assert {x.site.qms[F.SPARGER_FOULING].failure_mode for x in by_site.values()} == {
        "EQ-SPG-01",
        "SPARGER_BLOCKED",
        "FM-0231",
    }


def test_a_site_profile_with_an_unknown_unit_is_refused_with_its_path():
    text = (
        Path(__file__).resolve().parents[1] / "bioprocess/profiles/site_a_basel.toml"
    ).read_text()
    broken = text.replace(
        'name = "TIC101.PV"\nunit = "degC"', 'name = "TIC101.PV"\nunit = "Celsius"'
    )
    with pytest.raises(ValueError, match=r"unit of temperature must be one of .*got 'Celsius'"):
        parse_site_profile(broken, "site_a_basel.toml")


ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")


def _ts(text: str) -> datetime:
    assert ISO_WITH_OFFSET.match(text), text
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_bundles_follow_the_ingest_format(bundle_dir, campaign):
    manifests = sorted(bundle_dir.glob("*/manifest.json"))
    assert {m.parent.name for m in manifests} == {"SITE-A", "SITE-B", "SITE-C", "SITE-B_SP-BETA"}
    n_batches = 0
    for path in manifests:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        assert manifest["format_version"] == "1"
        for key in ("site", "sponsor", "product", "process"):
            assert manifest[key]["code"]
        assert manifest["process"]["version"]
        tags = {t["name"]: t for t in manifest["tags"]}
        assert len(tags) == len(manifest["tags"]) >= 1
        assert all(
            t["unit"] and t["kind"] in {"online", "offline", "setpoint", "controller_output"}
            for t in tags.values()
        )
        equipment = {e["equipment_id"] for e in manifest["equipment"]}
        for batch in manifest["batches"]:
            n_batches += 1
            assert re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", batch["batch_id"])
            assert batch["scale_l"] > 0 and batch["status"] == "complete"
            start, end = _ts(batch["start"]), _ts(batch["end"])
            assert end > start
            assert batch["raman_instrument"] in equipment
            folder = path.parent / batch["path"]
            _check_process(folder / "process.csv", tags, start)
            _check_lab(folder / "lab.csv", tags)
            _check_events(folder / "events.json", start, end)
            _check_raman(folder / "raman.parquet", start)
    assert n_batches == len(campaign.batches)
    truth = json.loads((bundle_dir / "ground_truth.json").read_text(encoding="utf-8"))
    assert {b["batch_id"] for b in truth["batches"]} == {b.batch_id for b in campaign.batches}


def _check_process(path: Path, tags: dict, start: datetime) -> None:
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"(?i)\b(nan|inf)\b", text)
    frame = pd.read_csv(path, dtype={"timestamp": str})
    assert frame.columns[0] == "timestamp"
    for col in frame.columns[1:]:
        assert tags[col]["kind"] in {"online", "setpoint", "controller_output"}
        assert pd.api.types.is_numeric_dtype(frame[col])
    times = [_ts(t) for t in frame["timestamp"]]
    assert times[0] >= start
    assert all(a < b for a, b in zip(times, times[1:], strict=False))


def _check_lab(path: Path, tags: dict) -> None:
    assert not re.search(r"(?i)\b(nan|inf)\b", path.read_text(encoding="utf-8"))
    lab = pd.read_csv(path, dtype={"sampled_at": str})
    assert list(lab.columns) == ["sampled_at", "analyte", "value", "unit"]
    for row in lab.itertuples():
        assert tags[row.analyte]["kind"] == "offline"
        assert row.unit == tags[row.analyte]["unit"]
        assert math.isfinite(row.value)
        _ts(row.sampled_at)
    assert not lab.duplicated(["sampled_at", "analyte"]).any()


def _check_events(path: Path, start: datetime, end: datetime) -> None:
    events = json.loads(path.read_text(encoding="utf-8"))
    phases = [(_ts(p["start"]), _ts(p["end"])) for p in events["phases"]]
    assert phases and phases[0][0] == start and phases[-1][1] == end
    assert all(a[1] <= b[0] for a, b in zip(phases, phases[1:], strict=False))
    for dev in events["deviations"]:
        for key in ("deviation_id", "opened_at", "category", "description"):
            assert dev[key]
        assert start <= _ts(dev["opened_at"]) <= end
        for capa in dev["capa"]:
            assert capa["capa_id"] and capa["action"] and capa["effective"] in (True, False, None)
    attributes = {q["attribute"]: q for q in events["quality_results"]}
    assert attributes["final_titre"]["value"] > 0 and attributes["final_titre"]["unit"]


def _check_raman(path: Path, start: datetime) -> None:
    raman = pd.read_parquet(path)
    assert raman.columns[0] == "timestamp"
    assert raman["timestamp"].is_monotonic_increasing and raman["timestamp"].iloc[0] >= start
    wn = np.asarray([float(c) for c in raman.columns[1:]])
    assert wn.size >= 1500 and np.all(np.diff(wn) > 0)
    values = raman.iloc[:, 1:].to_numpy()
    assert np.isfinite(values).all()


def test_second_sponsor_batches_are_a_separate_bundle(bundle_dir):
    beta = json.loads((bundle_dir / "SITE-B_SP-BETA" / "manifest.json").read_text())
    main = json.loads((bundle_dir / "SITE-B" / "manifest.json").read_text())
    assert beta["sponsor"]["code"] == "SP-BETA" and main["sponsor"]["code"] == "SP-ACME"
    assert beta["site"]["code"] == main["site"]["code"] == "SITE-B"
    assert not {b["batch_id"] for b in beta["batches"]} & {b["batch_id"] for b in main["batches"]}


def test_raman_predicts_glucose_neither_trivially_nor_impossibly():
    from sklearn.cross_decomposition import PLSRegression
    from sklearn.model_selection import GroupKFold, cross_val_predict

    batches = generate_campaign(
        CampaignConfig(
            n_sites=1,
            batches_per_site=4,
            fault_rate=0.0,
            seed=2,
            days=6.0,
            second_sponsor_batches=0,
        )
    ).batches
    x, y, groups = [], [], []
    for i, b in enumerate(batches):
        x.append(b.raman.spectra)
        y.append(np.interp(b.raman.t_h, b.truth["t_h"], b.truth["glc"]))
        groups += [i] * len(b.raman.t_h)
    x, y = np.vstack(x), np.concatenate(y) * MOLAR_MASS_G_PER_MMOL["glucose"]
    pred = cross_val_predict(
        PLSRegression(n_components=5), x, y, groups=groups, cv=GroupKFold(n_splits=len(batches))
    ).ravel()
    r2 = 1 - np.sum((pred - y) ** 2) / np.sum((y - y.mean()) ** 2)
    rmse = float(np.sqrt(np.mean((pred - y) ** 2)))
    assert 0.6 < r2 < 0.99  # useful, as in practice, but not exact
    assert 0.1 < rmse < 1.0  # g/L, cross-validated by batch


def test_cli_writes_a_campaign_and_refuses_a_non_empty_folder(tmp_path):
    runner = CliRunner()
    out = tmp_path / "demo"
    args = [
        "campaign",
        "--sites",
        "1",
        "--batches",
        "1",
        "--days",
        "2",
        "--fault-rate",
        "0",
        "--second-sponsor-batches",
        "0",
        "--out",
        str(out),
    ]
    result = runner.invoke(simulate_app, args)
    assert result.exit_code == 0, result.output
    assert (out / "SITE-A" / "manifest.json").exists() and (out / "ground_truth.json").exists()
    again = runner.invoke(simulate_app, args)
    assert again.exit_code != 0 and "must be empty" in again.output
    replaced = runner.invoke(simulate_app, [*args, "--overwrite", "--format", "parquet"])
    assert replaced.exit_code == 0, replaced.output
    batch = next((out / "SITE-A").glob("*/process.parquet"))
    assert pd.read_parquet(batch)["timestamp"].is_monotonic_increasing
