"""Early yield prediction at the site: train on the earlier finished batches, predict the
latest ones from their first X % as if they were still running, and keep the models as a
versioned model card (a retrain is a new version)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from neo4j import Driver

from bioprocess.errors import ValidationError
from bioprocess.models.yield_prediction import (
    DEFAULT_FRACTIONS,
    YieldModels,
    YieldPrediction,
    predict_final_titre,
    train_yield_models,
)
from site_node.models.data import batch_histories
from site_node.models.store import StoredModel, save_yield_models
from site_node.models.twin_forecasts import FORECAST_NAME, site_twin_forecaster


@dataclass(frozen=True)
class EarlyYield:
    models: YieldModels
    at_fraction: float
    model_fraction: float
    #: (prediction from the first ``at_fraction``, actual final value) of the latest batches
    predictions: list[tuple[YieldPrediction, float]]
    #: the model card stored as a new version (``None`` when not stored)
    stored: StoredModel | None = None


def _process_of(driver: Driver, batch_id: str, database: str | None) -> dict[str, str]:
    records, _, _ = driver.execute_query(
        "MATCH (b:Batch {batch_id: $id}) RETURN b.process AS process, "
        "b.process_version AS version, b.sponsor AS sponsor", id=batch_id,
        database_=database, routing_="r")
    return {k: records[0][k] or "" for k in ("process", "version", "sponsor")}


def early_yield(driver: Driver, attribute: str, *, at_fraction: float = 0.5,
                process: str | None = None, running: int = 3,
                fractions: tuple[float, ...] = DEFAULT_FRACTIONS, store: bool = True,
                mechanistic: bool = True, database: str | None = None) -> EarlyYield:
    """Models trained on all but the ``running`` latest batches; those predicted from their
    first ``at_fraction``. With ``store`` the models are kept as a new version of the
    (attribute, process) early-yield model card, with lineage to the training batches. With
    ``mechanistic`` the live twin's forecast (when it can read the site's data) is offered to
    the model as one more input; nested CV decides whether it is used."""
    histories, unit = batch_histories(driver, attribute, process=process, database=database)
    if len(histories) < 5:
        raise ValidationError(f"early yield prediction needs at least 5 finished batches with "
                              f"'{attribute}' (4 to train, 1 to predict); the site has "
                              f"{len(histories)}")
    running = max(1, min(running, len(histories) - 4))
    cuts = sorted({*fractions, at_fraction})
    training, latest = histories[:-running], histories[-running:]
    note, forecaster = "mechanistic twin forecast not requested", None
    if mechanistic:  # one interpretable input: the twin's forecast from the same early data
        forecaster, reason = site_twin_forecaster(
            driver, [h.batch_id for h in histories], attribute, unit, cuts, database=database)
        note = reason or ""
    models = train_yield_models(training, target=attribute, unit=unit, fractions=cuts,
                                forecaster=forecaster)
    if forecaster is not None:  # the running batches: prior from all training batches
        made = forecaster([h.batch_id for h in training], [h.batch_id for h in latest])
        latest = [replace(h, forecasts=made.get(h.batch_id, {})) for h in latest]
        note = (f"{FORECAST_NAME} offered as an input for "
                f"{sum(h.batch_id in made for h in histories)} of {len(histories)} batches "
                "(site prior learned from the training batches outside the batch's own block; "
                "in validation, from each fold's training batches only)")
        note += "".join(f"; not made for {p}" for p in forecaster.problems)
    models.notes.append(note)
    predictions = [(predict_final_titre(models, h.until(at_fraction)), h.final_value)
                   for h in latest]
    stored = None
    if store:
        of = _process_of(driver, models.training_batches[0], database)
        stored = save_yield_models(driver, models, process=of["process"],
                                   process_version=of["version"], sponsor=of["sponsor"],
                                   database=database)
    return EarlyYield(models, at_fraction, predictions[0][0].model_fraction, predictions,
                      stored)
