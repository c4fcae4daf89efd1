"""The mechanistic twin's forecasts for the early-yield model learn only from the batches they
are allowed to: a held-out batch's records never reach a training row's forecast, and no
batch teaches the prior of its own forecast (real twin, real generated batches, no Neo4j)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from benchmarks.models import _site_row
from site_node.live.reader import SiteBatch, site_batch
from site_node.live.vocabulary import site_vocabulary
from site_node.models.twin_forecasts import FORECAST_NAME, TwinForecaster
from tests.models_campaign import site_batches
from tests.virtual_site import virtual_batches


@pytest.fixture(scope="module")
def batches() -> list[SiteBatch]:
    records = site_batches("SITE-A")
    planned = float(np.median([r.duration_h for r in records]))
    return [site_batch(_site_row(r), site_vocabulary("SITE-A"), planned) for r in records]


def _corrupted(batch: SiteBatch) -> SiteBatch:
    """The same batch with every titre result tripled (a batch nothing should learn from)."""
    data = dict(batch.observations.data)
    t, v = data["titre"]
    data["titre"] = (t, 3.0 * np.asarray(v))
    return replace(batch, observations=replace(batch.observations, data=data))


def test_a_held_out_batch_never_reaches_the_training_rows_forecasts(batches: list) -> None:
    train, held = [b.batch_id for b in batches[:5]], [batches[5].batch_id]
    clean = TwinForecaster(batches, (0.5,))
    first = clean(train, held)
    assert set(first) == {*train, *held}
    assert all(np.isfinite(by[0.5][FORECAST_NAME]) for by in first.values())
    # no prior teaches a batch it forecasts: the training rows are taught by the others
    for teachers, prior_ids, targets in clean._followed:
        assert set(teachers) <= set(train) and not set(prior_ids) & set(targets)
    altered = [*batches[:5], _corrupted(batches[5]), *batches[6:]]
    second = TwinForecaster(altered, (0.5,))(train, held)
    assert {i: second[i] for i in train} == {i: first[i] for i in train}
    assert second[held[0]] != first[held[0]]  # its own forecast does follow its own data


@pytest.mark.parametrize("seed", [7, 11])
def test_a_hyper_metabolic_batch_is_forecast_from_a_site_of_normal_batches(seed: int) -> None:
    """Overflow is 1 in every finished batch of the site, so their spread says nothing of how
    far a hyper-metabolic culture goes; the forecaster's prior must still let the filter reach
    it by half-time (virtual batches, known truth: the titre it will end at)."""
    normal = virtual_batches(6, seed=21)
    (hyper,) = virtual_batches(1, seed=seed, prefix="H", overflow=1.8)
    batches = [SiteBatch(b.observations.batch_id, "complete", True, None, b.observations,
                         b.final_titre) for b in (*normal, hyper)]
    forecasts = TwinForecaster(batches, (0.5,))([b.batch_id for b in batches[:-1]],
                                                [hyper.observations.batch_id])
    forecast = forecasts[hyper.observations.batch_id][0.5][FORECAST_NAME]
    assert abs(forecast / hyper.final_titre - 1.0) < 0.08, (forecast, hyper.final_titre)
