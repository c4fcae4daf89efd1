"""Early yield prediction (pure): final titre from the first X % of a batch, nothing later."""

from __future__ import annotations

import numpy as np
import pytest

from bioprocess.errors import ValidationError
from bioprocess.models import PartialBatch, YieldModels, predict_final_titre, train_yield_models
from bioprocess.models.yield_prediction import _clearly_lower, batch_features
from tests.models_campaign import batch_history, site_batches


@pytest.fixture(scope="module")
def histories() -> list:
    return [batch_history(b, "final_titre") for b in site_batches("SITE-A")]


@pytest.fixture(scope="module")
def models(histories: list) -> YieldModels:
    return train_yield_models(histories[:-1], target="final_titre", unit="g/L")


def test_features_use_nothing_after_the_cut_off(histories: list) -> None:
    history = histories[0]
    cut = history.until(0.5)
    later = {tag: (t, np.where(t > cut.elapsed_h, v * 10 + 99, v))
             for tag, (t, v) in history.series.items()}
    lab_later = {a: (t, np.where(t > cut.elapsed_h, -v, v)) for a, (t, v) in history.lab.items()}
    assert batch_features(cut, 336.0) == batch_features(
        PartialBatch(cut.batch_id, cut.elapsed_h, later, lab_later), 336.0)


def test_accuracy_is_reported_per_cut_off_on_held_out_batches(models: YieldModels) -> None:
    assert sorted(models.models) == [0.25, 0.5, 0.75]
    for model in models.models.values():
        assert model.heldout["n"] == len(models.training_batches)  # every batch held out once
        assert 0 < model.accuracy_pct <= 100
        assert model.accuracy_pct == pytest.approx(100 - model.heldout["mape_pct"])
        if model.n_components:  # drivers are the standardised PLS coefficients, in words
            assert model.drivers and all("per standard deviation" in d for d in model.drivers)
        else:  # inner CV found no feature better than the mean: it says so
            assert model.drivers == ["no early feature predicts final_titre better than the "
                                     "mean of the training batches (the model is that mean)"]
    card = models.card()
    assert set(card["by_fraction"]) == {"25%", "50%", "75%"}


def test_a_running_batch_is_predicted_from_its_first_half(models: YieldModels,
                                                          histories: list) -> None:
    running = histories[-1]
    prediction = predict_final_titre(models, running.until(0.55))
    assert prediction.model_fraction == 0.5
    assert prediction.low < prediction.value < prediction.high
    # honest bound for 6 training batches: within 25 % of the actual final titre
    assert abs(prediction.value - running.final_value) < 0.25 * running.final_value
    with pytest.raises(ValidationError, match="the earliest model needs 25%"):
        predict_final_titre(models, running.until(0.1))


def test_too_few_batches_is_a_clear_error(histories: list) -> None:
    with pytest.raises(ValidationError, match="needs at least 4 finished batches with a final "
                                              "final_titre; got 3"):
        train_yield_models(histories[:3], target="final_titre")


def _with_forecast(histories: list, make) -> list:  # noqa: ANN001 - make(history) -> value
    from dataclasses import replace

    return [replace(h, forecasts={f: {"twin forecast": make(h)} for f in (0.25, 0.5, 0.75)})
            for h in histories]


def test_an_informative_forecast_is_chosen_and_named_as_the_driver(histories: list) -> None:
    rng = np.random.default_rng(3)  # a forecast within ~1 % of the truth, made elsewhere
    offered = _with_forecast(histories, lambda h: h.final_value * rng.normal(1.0, 0.01))
    hybrid = train_yield_models(offered[:-1], target="final_titre", unit="g/L",
                                fractions=(0.5,))
    model = hybrid.models[0.5]
    assert model.model.startswith("twin forecast")
    assert model.accuracy_pct > 97 and model.accuracy_pct > model.baseline_accuracy_pct
    assert model.drivers[0].startswith("the twin forecast of final_titre")
    running = offered[-1].until(0.5)
    assert predict_final_titre(hybrid, running).value == pytest.approx(
        running.forecasts["twin forecast"], rel=0.05)


def test_a_useless_or_missing_forecast_degrades_to_the_data_driven_model(
        histories: list) -> None:
    rng = np.random.default_rng(4)
    noise = train_yield_models(_with_forecast(histories, lambda h: rng.uniform(0.5, 9.0)),
                               target="final_titre", unit="g/L", fractions=(0.5,))
    assert not noise.models[0.5].model.startswith("twin forecast")
    plain = train_yield_models(histories, target="final_titre", unit="g/L", fractions=(0.5,))
    assert plain.models[0.5].model.startswith(("PLS", "the training mean"))
    # a running batch without the forecast is still predicted (the forecast is imputed)
    informative = train_yield_models(_with_forecast(histories, lambda h: h.final_value),
                                     target="final_titre", unit="g/L", fractions=(0.5,))
    bare = PartialBatch(histories[0].batch_id, 0.5 * histories[0].duration_h,
                        histories[0].series, histories[0].lab)
    assert np.isfinite(predict_final_titre(informative, bare).value)


def test_forecasts_are_requested_per_fold_from_its_training_batches_only(
        histories: list) -> None:
    calls: list[tuple[list[str], list[str]]] = []
    truth = {h.batch_id: h.final_value for h in histories}

    def memorising(train, predict):  # noqa: ANN001, ANN202 - exact for batches it learned from
        calls.append((list(train), list(predict)))
        made = {i: truth[i] for i in train} | {i: float(np.mean([truth[t] for t in train]))
                                                for i in predict}
        return {i: {0.5: {"twin forecast": v}} for i, v in made.items()}

    models = train_yield_models(histories, target="final_titre", unit="g/L", fractions=(0.5,),
                                forecaster=memorising)
    ids = [h.batch_id for h in histories]
    *folds, final = calls
    assert final == (ids, [])  # the final model: every batch is a training batch
    assert sorted(i for _, predict in folds for i in predict) == sorted(ids)  # each once
    assert all(not set(train) & set(predict) and sorted(train + predict) == sorted(ids)
               for train, predict in folds)
    # the forecast is the truth for every training row, so it is chosen; held out, it is
    # only the training mean — the stated accuracy is the mean predictor's, not 100 %
    model = models.models[0.5]
    assert model.model.startswith("twin forecast")
    assert model.accuracy_pct == pytest.approx(model.baseline_accuracy_pct)
    assert model.forecast_accuracy_pct["twin forecast"] == pytest.approx(
        model.baseline_accuracy_pct)
    assert models.card()["by_fraction"]["50%"]["forecast_alone_accuracy_pct"] == (
        model.forecast_accuracy_pct)


def test_the_data_driven_model_replaces_a_forecast_only_when_clearly_better() -> None:
    """The one-standard-error rule, by hand: paired differences 0.1, -0.1, 0.2, -0.2 have mean
    0 (not lower); 1.0, 1.0, 1.0, 1.1 have mean 1.025 and SE 0.025 (clearly lower); 0.3, -0.1,
    0.3, -0.1 have mean 0.1 and SE 0.1155 (lower on average, but not by one SE)."""
    errors = np.ones(4)
    assert not _clearly_lower(errors, np.array([1.1, 0.9, 1.2, 0.8]))
    assert _clearly_lower(errors, np.array([2.0, 2.0, 2.0, 2.1]))
    assert not _clearly_lower(errors, np.array([1.3, 0.9, 1.3, 0.9]))
