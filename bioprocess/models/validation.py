"""Validation grouped by batch: folds that never split a batch, batch-wise hold-out, metrics.

Spectra (or time points) of one batch are strongly correlated; a model validated on other
spectra of a batch it was trained on looks far better than it is. Every split here is by
batch id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import GroupKFold

from bioprocess.errors import ValidationError


@dataclass(frozen=True)
class Metrics:
    """Error of predictions against reference values, in the target's unit."""

    n: int
    rmse: float
    r2: float
    bias: float
    mape_pct: float

    def as_dict(self) -> dict[str, float]:
        return {"n": self.n, "rmse": self.rmse, "r2": self.r2, "bias": self.bias,
                "mape_pct": self.mape_pct}


def metrics(y_true: np.ndarray, y_pred: np.ndarray) -> Metrics:
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    ok = np.isfinite(y_true) & np.isfinite(y_pred)
    y_true, y_pred = y_true[ok], y_pred[ok]
    if y_true.size == 0:
        return Metrics(0, float("nan"), float("nan"), float("nan"), float("nan"))
    residual = y_pred - y_true
    total = float(np.sum((y_true - y_true.mean()) ** 2))
    r2 = 1.0 - float(np.sum(residual**2)) / total if total > 0 else float("nan")
    nonzero = np.abs(y_true) > 1e-12
    mape = float(np.mean(np.abs(residual[nonzero] / y_true[nonzero])) * 100) if nonzero.any() \
        else float("nan")
    return Metrics(int(y_true.size), float(np.sqrt(np.mean(residual**2))), r2,
                   float(residual.mean()), mape)


def batch_folds(groups: np.ndarray, n_splits: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, validation) row indices; each batch is in exactly one validation fold and
    never in the training rows of that fold."""
    groups = np.asarray(groups)
    n_batches = np.unique(groups).size
    if n_batches < 2:
        raise ValidationError(f"cross-validation by batch needs at least 2 batches; got "
                              f"{n_batches}")
    splitter = GroupKFold(n_splits=min(n_splits, n_batches))
    return list(splitter.split(np.zeros(groups.size), groups=groups))


def holdout_batches(groups: np.ndarray, fraction: float) -> np.ndarray:
    """Batch ids held out for the final test: every k-th batch in sorted order (spread over
    the campaign, deterministic), at least one, leaving at least two for training."""
    batches = np.unique(groups)
    if batches.size < 3:
        raise ValidationError(f"training with a batch-wise hold-out needs at least 3 batches "
                              f"with paired data; got {batches.size}")
    n_hold = min(max(1, int(round(fraction * batches.size))), batches.size - 2)
    step = batches.size / n_hold
    picks = sorted({int(step * i + step / 2) for i in range(n_hold)})
    return batches[picks]


def out_of_fold(fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray], n_rows: int,
                folds: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Out-of-fold predictions: ``fit_predict(train_idx, valid_idx)`` per fold."""
    predicted = np.full(n_rows, np.nan)
    for train, valid in folds:
        predicted[valid] = fit_predict(train, valid)
    return predicted


def conformal_half_width(residuals: np.ndarray, coverage: float = 0.95) -> float:
    """Half-width of a split-conformal interval from out-of-fold absolute residuals."""
    r = np.sort(np.abs(residuals[np.isfinite(residuals)]))
    if r.size == 0:
        return float("nan")
    rank = min(int(np.ceil((r.size + 1) * coverage)), r.size)
    return float(r[rank - 1])
