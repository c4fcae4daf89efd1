"""Soft sensors and yield models: spectral preprocessing, grouped validation, applicability
domain, drivers in words, early yield prediction and transfer checks (pure, no I/O).

Entry points: :func:`train_soft_sensor` / :meth:`SoftSensor.apply` (spectra -> estimates
with prediction intervals and out-of-domain flags), :func:`train_yield_models` (from
finished :class:`BatchHistory` records) / :func:`predict_final_titre` (final titre of a
running :class:`PartialBatch`), :func:`transfer_check` (site A's model on site B's data).
"""

from bioprocess.models.softsensor import (
    Estimates,
    SoftSensor,
    SoftSensorConfig,
    SpectralDataset,
    train_soft_sensor,
)
from bioprocess.models.transfer import TransferReport, transfer_check
from bioprocess.models.yield_prediction import (
    BatchHistory,
    PartialBatch,
    YieldModels,
    YieldPrediction,
    predict_final_titre,
    train_yield_models,
)

__all__ = [
    "BatchHistory",
    "Estimates",
    "PartialBatch",
    "SoftSensor",
    "SoftSensorConfig",
    "SpectralDataset",
    "TransferReport",
    "YieldModels",
    "YieldPrediction",
    "predict_final_titre",
    "train_soft_sensor",
    "train_yield_models",
    "transfer_check",
]
