"""Soft-sensor core (pure): grouped CV never leaks a batch, spectra from another instrument
or corrupted ones are flagged out of domain, nothing assumes the simulator's axis, transfer
check."""

from __future__ import annotations

import numpy as np
import pytest

from bioprocess.errors import ValidationError
from bioprocess.models import (
    SoftSensor,
    SoftSensorConfig,
    SpectralDataset,
    train_soft_sensor,
    transfer_check,
)
from bioprocess.models.drift import check_drift
from bioprocess.models.pairing import paired_dataset
from bioprocess.models.preprocess import SpectralPreprocessor
from bioprocess.models.validation import batch_folds
from tests.models_campaign import batch_spectra, site_batches


@pytest.fixture(scope="module")
def glucose() -> tuple[SoftSensor, list]:
    batches = site_batches("SITE-A")
    data = paired_dataset([batch_spectra(b, "GLC") for b in batches[:6]], target="GLC",
                          unit="g/L")
    return train_soft_sensor(data), batches


def test_folds_never_put_a_batch_in_training_and_validation() -> None:
    groups = np.repeat(np.array([f"B{i}" for i in range(7)]), 11)
    folds = batch_folds(groups, n_splits=5)
    seen = []
    for train, valid in folds:
        assert set(groups[train]).isdisjoint(groups[valid])
        seen += sorted(set(groups[valid]))
    assert sorted(seen) == sorted(set(groups))  # each batch validated exactly once


def test_the_trained_model_was_selected_on_folds_that_never_leak(glucose: tuple) -> None:
    card = glucose[0].card
    training = set(card["training_batches"])
    assert training.isdisjoint(card["validation_batches"])
    folds = card["cv_validation_batches"]
    assert len(folds) == card["metrics"]["cv_folds"] >= 2
    assert sorted(b for fold in folds for b in fold) == sorted(training)
    for fold in folds:  # the fold's training batches are the others
        assert set(fold) <= training and not set(fold) & (training - set(fold)) & set(fold)


def test_held_out_accuracy_and_the_alternatives_are_reported(glucose: tuple) -> None:
    card = glucose[0].card
    assert card["metrics"]["rmsep"] < 1.0 and card["metrics"]["r2"] > 0.8
    assert {s["algorithm"] for s in card["selection"]} == {"pls", "svr", "gbr"}
    assert sum(s["chosen"] for s in card["selection"]) == 1


def test_a_new_batch_from_the_same_analyser_is_mostly_in_domain(glucose: tuple) -> None:
    sensor, batches = glucose
    new = batches[6].raman
    estimates = sensor.apply(new.spectra, new.wavenumbers)
    assert estimates.out_of_domain_share < 0.15
    assert np.all(estimates.low < estimates.value) and np.all(estimates.value < estimates.high)


@pytest.mark.parametrize("shift_cm1", [8.0, -8.0])
def test_a_spectrum_from_an_analyser_with_a_shifted_axis_is_out_of_domain(
        glucose: tuple, shift_cm1: float) -> None:
    sensor, batches = glucose
    new = batches[6].raman
    wn = new.wavenumbers
    shifted = np.vstack([np.interp(wn - shift_cm1, wn, row) for row in new.spectra])
    estimates = sensor.apply(shifted, wn)
    assert estimates.out_of_domain_share > 0.9
    assert "Q residual" in estimates.reason[0]


def test_a_spectrum_with_another_baseline_is_out_of_domain(glucose: tuple) -> None:
    sensor, batches = glucose
    new = batches[6].raman
    x = (new.wavenumbers - new.wavenumbers.mean()) / np.ptp(new.wavenumbers)
    baseline = 0.1 * new.spectra.mean() * (1 + 2 * x + 3 * x**2)  # a fluorescent probe window
    assert sensor.apply(new.spectra + baseline, new.wavenumbers).out_of_domain_share > 0.9


def test_corrupted_spectra_are_out_of_domain_with_a_reason(glucose: tuple) -> None:
    sensor, batches = glucose
    new = batches[6].raman
    spectra = new.spectra[:3].copy()
    spectra[0, 800:1100] = 0.0  # detector dropout
    spectra[1, 500] = np.nan  # missing channel
    spectra[2] = np.minimum(spectra[2], np.percentile(spectra[2], 50))  # saturated
    estimates = sensor.apply(spectra, new.wavenumbers)
    assert not estimates.in_domain.any()
    assert estimates.reason[1] == "spectrum holds missing or non-finite values"
    assert np.isnan(estimates.value[1])


def test_spectra_that_do_not_cover_the_model_range_are_refused(glucose: tuple) -> None:
    sensor, batches = glucose
    new = batches[6].raman
    keep = new.wavenumbers < 1500
    with pytest.raises(ValidationError, match="the model needs wavenumbers 350-3100; the "
                                              "spectra cover 350-1499 only"):
        sensor.apply(new.spectra[:, keep], new.wavenumbers[keep])
    with pytest.raises(ValidationError, match="give their wavenumbers"):
        sensor.apply(new.spectra[:, keep])


def test_any_axis_and_analyte_work_and_ranges_are_read_from_the_data() -> None:
    """An NIR-like axis (4000-10000 cm⁻¹, 600 channels) and an 'ethanol' target."""
    rng = np.random.default_rng(1)
    axis = np.linspace(4000, 10000, 600)
    band = np.exp(-0.5 * ((axis - 5800) / 60) ** 2)
    other = np.exp(-0.5 * ((axis - 7100) / 120) ** 2)
    n = 8 * 12
    ethanol, nuisance = rng.uniform(0, 50, n), rng.uniform(0, 1, n)
    spectra = (np.outer(ethanol, band) + np.outer(nuisance * 40, other) + 5
               + rng.normal(0, 0.05, (n, axis.size)))
    data = SpectralDataset(axis, spectra, ethanol, np.repeat([f"F{i}" for i in range(8)], 12),
                           np.tile(np.arange(12.0), 8), "ethanol", "g/L")
    sensor = train_soft_sensor(data, SoftSensorConfig(ranges=((5000, 6600),),
                                                      algorithms=("pls",)))
    assert sensor.card["metrics"]["r2"] > 0.95
    # the range is resolved against the channels found in the data
    assert sensor.card["preprocessing"].startswith("range 5001.67-6594.32 (160 channels)")
    with pytest.raises(ValidationError, match=r"range 100-300 holds 0 channels of the "
                                              r"spectra's axis \(4000-10000, 600 channels\)"):
        SpectralPreprocessor(tuple(axis), ((100, 300),)).fit(spectra)


def test_the_transfer_check_says_when_recalibration_is_needed(glucose: tuple) -> None:
    other = site_batches("SITE-B")  # another analyser, lab code GLUC in mmol/L
    b = paired_dataset([batch_spectra(x, "GLUC") for x in other], target="GLUC")
    low, high = max(b.wavenumbers[0], 350.0), min(b.wavenumbers[-1], 3100.0)
    batches = site_batches("SITE-A")
    a = paired_dataset([batch_spectra(x, "GLC") for x in batches[:6]], target="GLC",
                       unit="g/L")
    sensor = train_soft_sensor(a, SoftSensorConfig(ranges=((low, high),),
                                                   algorithms=("pls",)))
    report = transfer_check(sensor, b, y_factor=180.16 / 1000)  # mmol/L -> g/L glucose
    assert report.n_batches == len(other) and report.rmsep_receiving is not None
    assert report.recalibration_needed and report.reasons
    assert "recalibrate before use" in report.summary
    own = transfer_check(sensor, a.subset(np.isin(a.groups, sensor.card["validation_batches"])))
    assert not own.recalibration_needed, own.summary


def test_drift_is_raised_for_out_of_domain_share_and_bias_only() -> None:
    ok = np.ones(60, bool)
    assert check_drift(ok, np.random.default_rng(0).normal(0, 0.3, 20), rmsecv=0.3,
                       unit="g/L") == []
    flagged = ok.copy()
    flagged[-20:] = False
    [finding] = check_drift(flagged, np.zeros(20), rmsecv=0.3, unit="g/L")
    assert finding.kind == "out_of_domain_share" and finding.value == pytest.approx(0.4)
    [bias] = check_drift(ok, np.full(20, 0.5), rmsecv=0.3, unit="g/L")
    assert bias.kind == "bias" and "+0.5 g/L" in bias.description
