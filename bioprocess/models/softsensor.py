"""Train a soft sensor on spectra paired with lab values, apply it, describe it (model card).

Training: a batch-wise hold-out is set aside; every candidate (PLS, SVR, gradient
boosting, each over a small grid) is scored by cross-validation grouped by batch on the
remaining batches; the best is refitted on them and tested once on the hold-out (RMSEP,
R², bias). The prediction interval is split-conformal from the chosen candidate's
out-of-fold residuals; the applicability domain is a PCA of the preprocessed training
spectra with out-of-fold T²/Q limits.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from bioprocess.errors import ValidationError
from bioprocess.models.candidates import ALGORITHM_NAMES, ALGORITHMS, Candidate, candidates
from bioprocess.models.domain import DomainModel, fit_domain
from bioprocess.models.drivers import (
    axis_windows,
    describe_permutation,
    permutation_importance_blocks,
    vip_regions,
    vip_scores,
)
from bioprocess.models.preprocess import Range, SpectralPreprocessor, check_axis, resample
from bioprocess.models.validation import (
    batch_folds,
    conformal_half_width,
    holdout_batches,
    metrics,
)


@dataclass(frozen=True)
class SpectralDataset:
    """Spectra (rows) paired with reference values of one target, with their batch ids."""

    wavenumbers: np.ndarray
    spectra: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    t_h: np.ndarray
    target: str
    unit: str = ""
    instrument: str = ""

    def __post_init__(self) -> None:
        axis = check_axis(self.wavenumbers, f"{self.target} training data")
        n = len(self.y)
        if self.spectra.ndim != 2 or self.spectra.shape != (n, axis.size):
            raise ValidationError(f"{self.target}: expected {n} spectra of {axis.size} channels; "
                                  f"got an array of shape {self.spectra.shape}")
        if len(self.groups) != n or len(self.t_h) != n:
            raise ValidationError(f"{self.target}: spectra, values, batch ids and times must "
                                  "have the same length")

    def subset(self, rows: np.ndarray) -> SpectralDataset:
        return SpectralDataset(self.wavenumbers, self.spectra[rows], self.y[rows],
                               self.groups[rows], self.t_h[rows], self.target, self.unit,
                               self.instrument)


@dataclass(frozen=True)
class SoftSensorConfig:
    """Choices of the user; defaults suit any spectrum (no instrument assumed)."""

    ranges: tuple[Range, ...] = ()
    #: (scatter correction, Savitzky–Golay derivative) pairs tried; grouped CV with PLS
    #: picks one, then every algorithm is compared on it.
    recipes: tuple[tuple[str, int], ...] = (("none", 0), ("snv", 1), ("msc", 1))
    window: float = 15.0
    polyorder: int = 2
    scaling: str = "centre"  # or "autoscale"
    algorithms: tuple[str, ...] = ALGORITHMS
    holdout_fraction: float = 0.25
    cv_splits: int = 5
    coverage: float = 0.95
    seed: int = 0

    def preprocessor(self, axis: np.ndarray, recipe: tuple[str, int]) -> SpectralPreprocessor:
        scatter, deriv = recipe
        return SpectralPreprocessor(tuple(axis.tolist()), self.ranges or None, scatter,
                                    self.window, self.polyorder, deriv)

    def scaler(self) -> StandardScaler:
        if self.scaling not in ("autoscale", "centre"):
            raise ValidationError(f"scaling must be autoscale or centre; got '{self.scaling}'")
        return StandardScaler(with_std=self.scaling == "autoscale")


@dataclass(frozen=True)
class Estimates:
    """Estimates of a set of spectra, each with an interval and domain flags."""

    value: np.ndarray
    low: np.ndarray
    high: np.ndarray
    t2: np.ndarray
    q: np.ndarray
    in_domain: np.ndarray
    reason: list[str]

    @property
    def out_of_domain_share(self) -> float:
        return float(np.mean(~self.in_domain)) if self.in_domain.size else 0.0


@dataclass
class CandidateResult:
    candidate: Candidate
    rmsecv: float
    seconds: float
    oof: np.ndarray = field(repr=False)


@dataclass
class SoftSensor:
    """A trained soft sensor: pipeline, domain, interval half-width and its model card."""

    target: str
    unit: str
    axis: np.ndarray
    pipeline: Pipeline
    domain: DomainModel
    half_width: float
    card: dict[str, Any]

    def _features(self, spectra: np.ndarray) -> np.ndarray:
        return self.pipeline[:-1].transform(spectra)

    def apply(self, spectra: np.ndarray, wavenumbers: np.ndarray | None = None) -> Estimates:
        """Estimate the target for each spectrum (rows) recorded on ``wavenumbers`` (default:
        the model's own axis); spectra on another axis are interpolated onto it."""
        block = np.atleast_2d(np.asarray(spectra, dtype=float))
        if wavenumbers is not None:
            block = resample(block, check_axis(wavenumbers), self.axis,
                             needed=self.pipeline.named_steps["preprocess"].axis_out_)
        elif block.shape[1] != self.axis.size:
            raise ValidationError(f"spectra have {block.shape[1]} channels; the model expects "
                                  f"{self.axis.size} (give their wavenumbers to resample)")
        n = block.shape[0]
        finite = np.all(np.isfinite(block), axis=1)
        value, t2, q = np.full(n, np.nan), np.full(n, np.inf), np.full(n, np.inf)
        if finite.any():
            features = self._features(block[finite])
            value[finite] = np.ravel(self.pipeline[-1].predict(features))
            t2[finite], q[finite] = self.domain.scores(features)
        in_domain = finite & (t2 <= self.domain.t2_limit_99) & (q <= self.domain.q_limit_99)
        reason = []
        for i in range(n):
            if not finite[i]:
                reason.append("spectrum holds missing or non-finite values")
            elif not in_domain[i]:
                parts = []
                if q[i] > self.domain.q_limit_99:
                    parts.append(f"Q residual {q[i]:.3g} > 99 % limit "
                                 f"{self.domain.q_limit_99:.3g} (spectral shape unlike training)")
                if t2[i] > self.domain.t2_limit_99:
                    parts.append(f"T² {t2[i]:.3g} > 99 % limit {self.domain.t2_limit_99:.3g} "
                                 "(unusual combination of training features)")
                reason.append("; ".join(parts))
            elif q[i] > self.domain.q_limit_95 or t2[i] > self.domain.t2_limit_95:
                reason.append("within the 99 % limits but beyond a 95 % limit (watch)")
            else:
                reason.append("")
        return Estimates(value, value - self.half_width, value + self.half_width, t2, q,
                         in_domain, reason)


def _fold_blocks(data: SpectralDataset, folds: list[tuple[np.ndarray, np.ndarray]],
                 config: SoftSensorConfig, recipe: tuple[str, int]
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Preprocess and scale each fold once (fitted on its training rows only)."""
    blocks = []
    for train, valid in folds:
        front = Pipeline([("preprocess", config.preprocessor(data.wavenumbers, recipe)),
                          ("scale", config.scaler())]).fit(data.spectra[train])
        blocks.append((front.transform(data.spectra[train]), front.transform(data.spectra[valid])))
    return blocks


def _choose_recipe(data: SpectralDataset, folds: list, config: SoftSensorConfig
                   ) -> tuple[tuple[str, int], list, list[dict[str, Any]]]:
    """The preprocessing recipe with the lowest grouped-CV error of its best PLS model."""
    if not config.recipes:
        raise ValidationError("at least one preprocessing recipe (scatter, derivative) is needed")
    pls = candidates(("pls",), len(data.y))
    best, scores = None, []
    for recipe in config.recipes:
        blocks = _fold_blocks(data, folds, config, recipe)
        rmse = min(_score(c, data, folds, blocks).rmsecv for c in pls) \
            if len(config.recipes) > 1 else float("nan")
        scores.append({"scatter": recipe[0], "deriv": recipe[1], "pls_rmsecv": rmse})
        if best is None or rmse < best[2]:
            best = (recipe, blocks, rmse)
    assert best is not None
    return best[0], best[1], scores


def _score(candidate: Candidate, data: SpectralDataset, folds: list, blocks: list
           ) -> CandidateResult:
    started = time.perf_counter()
    oof = np.full(len(data.y), np.nan)
    for (train, valid), (x_train, x_valid) in zip(folds, blocks, strict=True):
        model = candidate.make().fit(x_train, data.y[train])
        oof[valid] = np.ravel(model.predict(x_valid))
    rmse = float(np.sqrt(np.mean((oof - data.y) ** 2)))
    return CandidateResult(candidate, rmse, (time.perf_counter() - started) / len(folds), oof)


def _fit(candidate: Candidate, data: SpectralDataset, config: SoftSensorConfig,
         recipe: tuple[str, int]) -> Pipeline:
    return Pipeline([("preprocess", config.preprocessor(data.wavenumbers, recipe)),
                     ("scale", config.scaler()), ("model", candidate.make())]
                    ).fit(data.spectra, data.y)


def train_soft_sensor(data: SpectralDataset, config: SoftSensorConfig | None = None
                      ) -> SoftSensor:
    """Select, fit, test and describe a soft sensor for ``data.target``."""
    config = config or SoftSensorConfig()
    if not np.all(np.isfinite(data.y)) or not np.all(np.isfinite(data.spectra)):
        raise ValidationError(f"{data.target}: training spectra and values must be finite")
    held = holdout_batches(data.groups, config.holdout_fraction)
    is_held = np.isin(data.groups, held)
    train, test = data.subset(np.flatnonzero(~is_held)), data.subset(np.flatnonzero(is_held))
    folds = batch_folds(train.groups, config.cv_splits)
    grid = candidates(config.algorithms, len(train.y), config.seed)
    recipe, blocks, recipe_scores = _choose_recipe(train, folds, config)
    results = [_score(c, train, folds, blocks) for c in grid]
    best_per_algorithm: dict[str, CandidateResult] = {}
    for result in results:
        current = best_per_algorithm.get(result.candidate.algorithm)
        if current is None or result.rmsecv < current.rmsecv:
            best_per_algorithm[result.candidate.algorithm] = result
    chosen = min(best_per_algorithm.values(), key=lambda r: r.rmsecv)

    selection = []
    pipeline = None
    for algorithm, result in best_per_algorithm.items():
        started = time.perf_counter()
        fitted = _fit(result.candidate, train, config, recipe)
        seconds = time.perf_counter() - started
        held_metrics = metrics(test.y, np.ravel(fitted.predict(test.spectra)))
        selection.append({"algorithm": algorithm, "params": result.candidate.params,
                          "rmsecv": result.rmsecv, "fit_seconds": seconds,
                          "rmsep": held_metrics.rmse, "r2": held_metrics.r2,
                          "bias": held_metrics.bias, "chosen": result is chosen})
        if result is chosen:
            pipeline = fitted
    assert pipeline is not None
    x_train = pipeline[:-1].transform(train.spectra)
    domain = fit_domain(x_train, folds)
    half_width = conformal_half_width(chosen.oof - train.y, config.coverage)
    sensor = SoftSensor(data.target, data.unit, np.asarray(data.wavenumbers, float), pipeline,
                        domain, half_width, {})
    held_estimates = sensor.apply(test.spectra)
    held_metrics = metrics(test.y, held_estimates.value)
    covered = float(np.mean((test.y >= held_estimates.low) & (test.y <= held_estimates.high)))
    cv_metrics = metrics(train.y, chosen.oof)
    sensor.card = {
        "target": data.target,
        "unit": data.unit,
        "inputs": (f"spectra from {data.instrument or 'the site analyser'}, "
                   f"{data.wavenumbers.size} channels {data.wavenumbers[0]:g}-"
                   f"{data.wavenumbers[-1]:g} cm⁻¹"),
        "preprocessing": pipeline.named_steps["preprocess"].describe() + (
            "; mean-centred" if config.scaling == "centre" else
            "; mean-centred and scaled to unit variance"),
        "algorithm": chosen.candidate.algorithm,
        "algorithm_name": ALGORITHM_NAMES[chosen.candidate.algorithm],
        "hyperparameters": chosen.candidate.params,
        "training_batches": sorted(map(str, np.unique(train.groups))),
        "validation_batches": sorted(map(str, held)),
        "n_training_spectra": int(len(train.y)),
        "n_validation_spectra": int(len(test.y)),
        "metrics": {"rmsecv": cv_metrics.rmse, "r2cv": cv_metrics.r2,
                    "rmsep": held_metrics.rmse, "r2": held_metrics.r2,
                    "bias": held_metrics.bias, "mape_pct": held_metrics.mape_pct,
                    "interval_coverage_holdout": covered,
                    "holdout_out_of_domain_share": held_estimates.out_of_domain_share,
                    "cv_folds": len(folds)},
        "cv_validation_batches": [sorted(map(str, np.unique(train.groups[valid])))
                                  for _, valid in folds],
        "prediction_interval": {"coverage": config.coverage, "half_width": half_width,
                                "method": "split-conformal from out-of-fold residuals of the "
                                          "cross-validation grouped by batch"},
        "domain": domain.as_dict(),
        "domain_text": domain.describe(),
        "drivers": _drivers(sensor, test if len(test.y) >= 10 else train, data.unit),
        "assumptions": [
            f"spectra come from an analyser like {data.instrument or 'the training one'} "
            "(same wavenumber calibration and resolution, similar baseline)",
            f"{data.target} lies in the training range {data.y.min():.3g}-{data.y.max():.3g} "
            f"{data.unit}; beyond it the model extrapolates",
            "lab reference values are paired with the spectrum recorded nearest in time",
        ],
        "limitations": [
            f"trained on {np.unique(train.groups).size} batches; batches unlike them (new "
            "process, media, scale) are flagged by the applicability domain, not corrected",
            f"uncertainty is one {config.coverage:.0%} interval of ±{half_width:.3g} "
            f"{data.unit} for every in-domain spectrum; out-of-domain estimates have none",
        ],
        "selection": selection,
        "preprocessing_selection": recipe_scores,
        "config": {"ranges": [list(r) for r in config.ranges],
                   "recipes": [list(r) for r in config.recipes], "recipe": list(recipe),
                   "window": config.window, "polyorder": config.polyorder,
                   "scaling": config.scaling,
                   "holdout_fraction": config.holdout_fraction, "cv_splits": config.cv_splits,
                   "coverage": config.coverage, "seed": config.seed},
    }
    return sensor


def _drivers(sensor: SoftSensor, data: SpectralDataset, unit: str) -> list[str]:
    words = []
    model = sensor.pipeline.named_steps["model"]
    preprocess = sensor.pipeline.named_steps["preprocess"]
    if hasattr(model, "x_weights_"):
        words += [f"PLS VIP region {w}" for w in
                  vip_regions(vip_scores(model), preprocess.axis_out_, top=4)]
    windows = axis_windows(sensor.axis, preprocess.selected_)
    labels = [f"{sensor.axis[w[0]]:.0f}–{sensor.axis[w[-1]]:.0f} cm⁻¹" for w in windows]

    def predict(block: np.ndarray) -> np.ndarray:
        return np.ravel(sensor.pipeline.predict(block))

    rises = permutation_importance_blocks(predict, data.spectra, data.y, windows)
    base = float(np.sqrt(np.mean((predict(data.spectra) - data.y) ** 2)))
    words += [f"permutation: {w}" for w in describe_permutation(rises, labels, base, unit, 4)]
    return words
