"""Early yield prediction: the final titre (or any end-of-batch attribute) from the first X %
of a batch, with an interpretable model and its drivers in words.

Features are generic statistics of whatever the site records up to the cut-off — for every
on-line tag its mean, last value and recent slope; for every lab analyte its last value,
recent slope and area under the curve — so no tag or analyte name is assumed. The
data-driven model is a PLS regression on standardised features (number of components chosen
by cross-validation grouped by batch); its drivers are the standardised coefficients. A
forecast of the target supplied per batch (the mechanistic twin's) is used as is instead
unless the data-driven procedure's cross-validated error is lower by more than one standard
error (``_fit_model``). Accuracy is
100 % − MAPE over held-out batches, every batch predicted by a model that never saw it
(nested grouped cross-validation, batches in time order).

Forecasts of the target learned from *other* batches (a mechanistic twin whose site prior is
fitted on past batches) must be recomputed for every validation fold from that fold's
training batches only — otherwise the training rows carry information about the held-out
batch. A :data:`Forecaster` does that: it is called once per fold and once for the final
model, and the same procedure runs in production and in validation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.cross_decomposition import PLSRegression
from sklearn.dummy import DummyRegressor
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from bioprocess.errors import ValidationError
from bioprocess.models.validation import conformal_half_width, metrics

Series = tuple[np.ndarray, np.ndarray]
DEFAULT_FRACTIONS = (0.25, 0.5, 0.75)
#: Feature-name prefix of forecasts supplied with a batch (see :class:`PartialBatch`).
FORECAST_PREFIX = "forecast: "
#: Outer validation folds (contiguous blocks of batches in time order; fewer batches: one
#: batch per fold).
OUTER_FOLDS = 5

#: ``forecaster(train_ids, predict_ids)`` -> ``{batch_id: {fraction: {name: value}}}`` for the
#: batches of both lists, made from the records of ``train_ids`` only (plus each batch's own
#: data up to the cut-off). The training rows' forecasts must be made the way they are when
#: the final model is trained, so the validation mirrors production.
Forecaster = Callable[[Sequence[str], Sequence[str]],
                      Mapping[str, Mapping[float, Mapping[str, float]]]]


@dataclass(frozen=True)
class PartialBatch:
    """What is known of a batch after ``elapsed_h`` hours: on-line series and lab results
    (times in hours since the batch start), in the site's own names."""

    batch_id: str
    elapsed_h: float
    series: Mapping[str, Series] = field(default_factory=dict)
    lab: Mapping[str, Series] = field(default_factory=dict)
    #: forecasts of the target made from this batch's data up to ``elapsed_h`` only (e.g. a
    #: mechanistic twin's), by name; optional — without them the model is purely data-driven
    forecasts: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchHistory:
    """A finished batch: its full records, duration and the final value to predict."""

    batch_id: str
    duration_h: float
    series: Mapping[str, Series]
    lab: Mapping[str, Series]
    final_value: float
    #: per cut-off fraction, forecasts of the target made from the data up to that cut-off
    forecasts: Mapping[float, Mapping[str, float]] = field(default_factory=dict)

    def until(self, fraction: float) -> PartialBatch:
        return PartialBatch(self.batch_id, fraction * self.duration_h, self.series, self.lab,
                            self.forecasts.get(fraction, {}))


def _slope(t: np.ndarray, v: np.ndarray) -> float:
    if t.size < 2 or np.ptp(t) <= 0:
        return np.nan
    return float(np.polyfit(t, v, 1)[0])


def batch_features(batch: PartialBatch, horizon_h: float | None = None) -> dict[str, float]:
    """Statistics of everything recorded up to ``batch.elapsed_h`` (nothing later); with
    ``horizon_h`` (the expected end) also each lab analyte's value extrapolated to it along
    its recent slope."""
    cutoff = batch.elapsed_h
    features: dict[str, float] = {}
    for tag, (t, v) in batch.series.items():
        t, v = np.asarray(t, float), np.asarray(v, float)
        keep = (t <= cutoff) & np.isfinite(v)
        t, v = t[keep], v[keep]
        if t.size == 0:
            continue
        recent = t >= cutoff - 0.25 * cutoff
        last = t >= cutoff - 0.05 * cutoff
        features[f"{tag} mean"] = float(v.mean())
        features[f"{tag} last"] = float(v[last].mean()) if last.any() else float(v[-1])
        features[f"{tag} recent slope"] = _slope(t[recent], v[recent])
    for analyte, (t, v) in batch.lab.items():
        t, v = np.asarray(t, float), np.asarray(v, float)
        keep = (t <= cutoff) & np.isfinite(v)
        t, v = t[keep], v[keep]
        if t.size == 0:
            continue
        features[f"lab {analyte} last"] = float(v[-1])
        slope = _slope(t[-3:], v[-3:])
        features[f"lab {analyte} recent slope"] = slope
        if horizon_h is not None and np.isfinite(slope):
            features[f"lab {analyte} extrapolated to end"] = float(
                v[-1] + slope * max(horizon_h - t[-1], 0.0))
        features[f"lab {analyte} area"] = float(np.trapezoid(v, t)) if t.size > 1 else 0.0
    for name, value in batch.forecasts.items():
        if value is not None and np.isfinite(value):
            features[FORECAST_PREFIX + name] = float(value)
    return features


def _matrix(rows: Sequence[dict[str, float]], names: Sequence[str]) -> np.ndarray:
    return np.array([[row.get(n, np.nan) for n in names] for row in rows], dtype=float)


#: Standardised features are clipped to this many SDs: one faulty sensor in a new batch must
#: not throw the prediction by dozens of SDs (the model never saw such values).
CLIP_SD = 3.0


def _clip(z: np.ndarray) -> np.ndarray:
    return np.clip(z, -CLIP_SD, CLIP_SD)


def _drop_columns(X: np.ndarray, columns: Sequence[int] = ()) -> np.ndarray:  # noqa: N803
    return np.delete(X, list(columns), axis=1)


def _pipeline(k: int, drop: Sequence[int] = ()) -> Pipeline:
    """PLS with ``k`` components; ``k = 0`` is the mean of the training batches (chosen when
    no feature predicts better than it). ``drop``: columns it does not use (the forecasts —
    the data-driven model and a forecast stay separate models)."""
    model = PLSRegression(n_components=k, scale=False) if k else DummyRegressor()
    steps = [("drop", FunctionTransformer(_drop_columns, kw_args={"columns": list(drop)}))]
    return Pipeline([*(steps if drop else []),
                     ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                     ("scale", StandardScaler()),
                     ("clip", FunctionTransformer(_clip)),
                     ("pls", model)])


class ForecastAsInput(BaseEstimator, RegressorMixin):
    """A forecast of the target made from the batch's own data up to the cut-off (for example
    a mechanistic twin's), used as is. A batch without the forecast gets the training median
    of it. (``calibrate=True``, a + b · forecast fitted on the training batches, is no longer
    chosen; it stays so that cards stored before 2026-11-27 still load and predict.)"""

    def __init__(self, column: int = 0, calibrate: bool = False) -> None:
        self.column = column
        self.calibrate = calibrate

    def fit(self, X: np.ndarray, y: np.ndarray) -> ForecastAsInput:  # noqa: N803
        x = X[:, self.column]
        ok = np.isfinite(x)
        self.median_ = float(np.median(x[ok])) if ok.any() else float(np.mean(y))
        if self.calibrate and ok.sum() >= 3 and np.ptp(x[ok]) > 0:
            self.slope_, self.intercept_ = (float(c) for c in np.polyfit(x[ok], y[ok], 1))
        else:
            self.slope_, self.intercept_ = 1.0, 0.0
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        x = np.where(np.isfinite(X[:, self.column]), X[:, self.column], self.median_)
        return self.intercept_ + self.slope_ * x


#: A candidate data-driven model: ("pls", k) — k = 0 is the training mean.
Candidate = tuple


def _candidates(n: int, max_k: int = 3) -> list[Candidate]:
    return [("pls", k) for k in range(0, min(max_k, n - 2) + 1)]


def _inner_folds(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return list(KFold(n_splits=min(5, n)).split(np.arange(n)))


def _cv_predictions(make: Callable[[], Any], X: np.ndarray,  # noqa: N803
                    y: np.ndarray) -> np.ndarray:
    """Each row predicted by a model fitted without its fold (rows = batches)."""
    predicted = np.empty(len(y))
    for train, valid in _inner_folds(len(y)):
        predicted[valid] = np.ravel(make().fit(X[train], y[train]).predict(X[valid]))
    return predicted


def _squared_errors(predicted: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.square(predicted - y)


def _mse(predicted: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(_squared_errors(predicted, y)))


def _choose(X: np.ndarray, y: np.ndarray) -> tuple[Candidate, float]:  # noqa: N803
    """The data-driven candidate with the lowest cross-validated mean squared error on ``X``
    and that error; ties go to the simpler, earlier candidate."""
    best_c, best = ("pls", 0), np.inf
    for candidate in _candidates(X.shape[0]):
        mse = _mse(_cv_predictions(lambda c=candidate: _pipeline(c[1]), X, y), y)
        if mse < best - 1e-12:
            best_c, best = candidate, mse
    return best_c, best


class _ChosenPls(BaseEstimator, RegressorMixin):
    """The data-driven procedure as one estimator: choose the candidate by CV, then fit it."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> _ChosenPls:  # noqa: N803
        self.pipeline_ = _pipeline(_choose(X, y)[0][1]).fit(X, y)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        return np.ravel(self.pipeline_.predict(X))


Model = Pipeline | ForecastAsInput


def _fit_model(X: np.ndarray, y: np.ndarray, names: Sequence[str]) -> Model:  # noqa: N803
    """The data-driven model (PLS components chosen by CV), or a supplied forecast used as is
    unless the data-driven procedure is clearly better on these batches.

    The data-driven error is that of the whole procedure — components chosen again in every
    fold — because the chosen candidate's own CV error is a minimum over candidates, too good
    by selection. "Clearly" is the one-standard-error rule (Breiman et al. 1984; Hastie et
    al., *Elements of Statistical Learning*, 7.10): the forecast, with nothing fitted, is the
    simpler model and stays unless the procedure's CV squared errors are lower by more than one
    standard error of the paired difference. With a dozen training batches one batch the
    procedure happens to fit decides a plain comparison (seed 20 at 75 %: PLS chosen on 0.043
    against 0.052, then 84 % against the forecast's 95.7 %). Nothing is fitted on the forecast
    (no recalibration, no weights): each fitted coefficient cost more accuracy than it gained
    (``docs/architecture.md``, early yield)."""
    columns = _forecast_columns(names)
    features = _drop_columns(X, columns)
    candidate, _ = _choose(features, y)
    best: Model = _pipeline(candidate[1], drop=columns)
    if columns:
        procedure = _squared_errors(_cv_predictions(lambda: _ChosenPls(), features, y), y)
        forecasts = {column: _squared_errors(
            _cv_predictions(lambda c=column: ForecastAsInput(c), X, y), y) for column in columns}
        column = min(forecasts, key=lambda c: float(forecasts[c].mean()))
        if not _clearly_lower(procedure, forecasts[column]):
            best = ForecastAsInput(column)
    return best.fit(X, y)


def _clearly_lower(errors: np.ndarray, reference: np.ndarray) -> bool:
    """Whether ``errors`` (per batch) are lower than ``reference`` on average by more than one
    standard error of their paired difference."""
    difference = reference - errors
    if len(difference) < 2:
        return bool(difference.mean() > 0)
    return bool(difference.mean() > difference.std(ddof=1) / np.sqrt(len(difference)))


def _describe(model: Model, names: Sequence[str]) -> str:
    if isinstance(model, ForecastAsInput):
        name = names[model.column].removeprefix(FORECAST_PREFIX)
        return f"{name}, " + ("recalibrated on the training batches" if model.calibrate
                              else "used as is")
    k = int(getattr(model.named_steps["pls"], "n_components", 0))
    return f"PLS {k} components on the early features" if k else (
        "the training mean (no feature helped)")


INPUTS_TEXT = ("for every on-line tag its mean, last value and recent slope up to the cut-off; "
               "for every lab analyte its last value, recent slope, area under the curve and "
               "value extrapolated to the typical end — whatever the site records, under its "
               "own names; plus any forecast of the target supplied with the batch (e.g. the "
               "mechanistic twin's, made from the same data up to the cut-off)")
VALIDATION_TEXT = (
    f"nested grouped {OUTER_FOLDS}-fold cross-validation over batches in time order: every "
    "training batch predicted by a model (candidate and number of components) chosen without "
    "it; forecasts learned from other batches (the twin's site prior) recomputed for each "
    "fold from that fold's training batches only")
ASSUMPTIONS = (
    "a new batch runs the same process (recipe, scale, duration) as the training batches",
    "the cut-off is a share of the typical duration of the training batches",
    "tags and lab analytes keep their names and units; a missing one is imputed with the "
    "training median",
)
LIMITATIONS = (
    "events after the cut-off (a late fault, a contamination) are invisible to the model; "
    "its error is largest for such batches",
    "few training batches: the held-out accuracy is itself uncertain by several percent",
    "drivers are associations across past batches, not causes",
)


@dataclass
class FractionModel:
    """The model for one cut-off fraction, its held-out accuracy and drivers."""

    fraction: float
    feature_names: list[str]
    pipeline: Model
    n_components: int
    model: str
    half_width: float
    accuracy_pct: float
    baseline_accuracy_pct: float
    heldout: dict[str, float]
    drivers: list[str]
    #: each supplied forecast used as is, 100 % − MAPE on the same held-out batches
    forecast_accuracy_pct: dict[str, float] = field(default_factory=dict)


@dataclass
class YieldModels:
    """Early-yield models at several cut-offs for one target (e.g. final titre)."""

    target: str
    unit: str
    typical_duration_h: float
    training_batches: list[str]
    models: dict[float, FractionModel]
    #: what the caller wants the card to say about how it was trained (e.g. forecasts used)
    notes: list[str] = field(default_factory=list)

    def card(self) -> dict[str, object]:
        return {
            "kind": "early_yield",
            "target": self.target, "unit": self.unit,
            "typical_duration_h": self.typical_duration_h,
            "training_batches": self.training_batches,
            "algorithm": "per cut-off: PLS regression on standardised early-batch features "
                         "(components chosen by cross-validation grouped by batch; 0 = the "
                         "training mean), or a supplied forecast of the target (e.g. the "
                         "mechanistic twin's) used as is when its cross-validated error is "
                         "lower",
            "inputs": INPUTS_TEXT,
            "validation": VALIDATION_TEXT,
            "assumptions": list(ASSUMPTIONS), "limitations": list(LIMITATIONS),
            "notes": list(self.notes),
            "by_fraction": {f"{int(round(f * 100))}%": {
                "accuracy_pct": m.accuracy_pct, "mean_predictor_accuracy_pct":
                m.baseline_accuracy_pct, "components": m.n_components, "model": m.model,
                "interval_half_width": m.half_width, "drivers": m.drivers,
                "forecast_alone_accuracy_pct": m.forecast_accuracy_pct}
                for f, m in sorted(self.models.items())},
        }


@dataclass(frozen=True)
class YieldPrediction:
    batch_id: str
    target: str
    unit: str
    value: float
    low: float
    high: float
    elapsed_fraction: float
    model_fraction: float
    expected_accuracy_pct: float
    drivers: list[str]


def _drivers(model: Model, names: list[str], unit: str, target: str,
             top: int = 5) -> list[str]:
    if isinstance(model, ForecastAsInput):
        name = names[model.column].removeprefix(FORECAST_PREFIX)
        if not model.calibrate:
            return [f"the {name} of {target}, used as is (on the training batches the "
                    "data-driven model's cross-validated error was not lower by more than one "
                    "standard error)"]
        return [f"the {name} of {target}, recalibrated: {model.intercept_:+.3g} {unit} + "
                f"{model.slope_:.3g} x forecast"]
    if not hasattr(model.named_steps["pls"], "coef_"):
        return [f"no early feature predicts {target} better than the mean of the training "
                "batches (the model is that mean)"]
    if "drop" in model.named_steps:
        dropped = set(model.named_steps["drop"].kw_args["columns"])
        names = [n for i, n in enumerate(names) if i not in dropped]
    coef = np.ravel(model.named_steps["pls"].coef_)
    scale = model.named_steps["scale"].scale_
    coef = np.where(scale > 1e-12, coef, 0.0)
    order = np.argsort(-np.abs(coef))
    words = []
    for i in order[:top]:
        if coef[i] == 0:
            break
        direction = "higher" if coef[i] > 0 else "lower"
        words.append(f"higher '{names[i]}' -> {direction} {target} ({coef[i]:+.3g} {unit} per "
                     "standard deviation)")
    return words


def _forecast_columns(names: Sequence[str]) -> list[int]:
    return [i for i, n in enumerate(names) if n.startswith(FORECAST_PREFIX)]


def _fit_fraction(fold_rows: Sequence[list[dict[str, float]]], final_rows: list[dict[str, float]],
                  y: np.ndarray, folds: Sequence[tuple[np.ndarray, np.ndarray]],
                  fraction: float, unit: str, target: str) -> FractionModel:
    """``fold_rows[k]``: every batch's features as fold ``k`` sees them (its forecasts made
    from fold ``k``'s training batches only); ``final_rows``: as the final model sees them."""
    oof, base = np.full(len(y), np.nan), np.full(len(y), np.nan)
    alone: dict[str, np.ndarray] = {}
    for rows, (train, valid) in zip(fold_rows, folds, strict=True):
        names = sorted({n for i in train for n in rows[i]})  # what the fold's training saw
        X = _matrix(rows, names)  # noqa: N806
        fitted = _fit_model(X[train], y[train], names)  # without the held-out batches
        oof[valid] = np.ravel(fitted.predict(X[valid]))
        base[valid] = y[train].mean()
        for i in _forecast_columns(names):
            alone.setdefault(names[i], np.full(len(y), np.nan))[valid] = X[valid, i]
    names = sorted({n for row in final_rows for n in row})
    X = _matrix(final_rows, names)  # noqa: N806
    pipeline = _fit_model(X, y, names)
    held, baseline = metrics(y, oof), metrics(y, base)
    k = (0 if isinstance(pipeline, ForecastAsInput)
         else int(getattr(pipeline.named_steps["pls"], "n_components", 0)))
    forecast_accuracy = {}
    for name, values in alone.items():
        ok = np.isfinite(values)
        if ok.all():  # only when every held-out batch had the forecast
            forecast_accuracy[name.removeprefix(FORECAST_PREFIX)] = (
                100.0 - metrics(y[ok], values[ok]).mape_pct)
    return FractionModel(fraction, names, pipeline, k, _describe(pipeline, names),
                         conformal_half_width(oof - y), 100.0 - held.mape_pct,
                         100.0 - baseline.mape_pct, held.as_dict(),
                         _drivers(pipeline, names, unit, target), forecast_accuracy)


def outer_folds(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The validation folds over ``n`` batches in time order: contiguous blocks."""
    return list(KFold(n_splits=min(OUTER_FOLDS, n)).split(np.arange(n)))


def train_yield_models(histories: Sequence[BatchHistory], *, target: str, unit: str = "",
                       fractions: Sequence[float] = DEFAULT_FRACTIONS,
                       forecaster: Forecaster | None = None) -> YieldModels:
    """Fit one model per cut-off fraction of the batch duration.

    Without ``forecaster`` the forecasts carried by ``histories`` (if any) are used as they
    are — fine for forecasts that learn nothing from other batches. With it, the forecasts
    are requested per validation fold (from that fold's training batches) and for the final
    model (from all of ``histories``); the histories' own forecasts are ignored.
    """
    if len(histories) < 4:
        raise ValidationError(f"early yield prediction needs at least 4 finished batches with "
                              f"a final {target}; got {len(histories)}")
    if any(not 0 < f <= 1 for f in fractions):
        raise ValidationError(f"fractions must lie in (0, 1]; got {list(fractions)}")
    y = np.array([h.final_value for h in histories], dtype=float)
    ids = [h.batch_id for h in histories]
    folds = outer_folds(len(histories))
    if forecaster is None:
        fold_histories = [list(histories)] * len(folds)
        final_histories = list(histories)
    else:
        def supplied(train: Sequence[int], predict: Sequence[int]) -> list[BatchHistory]:
            got = forecaster([ids[i] for i in train], [ids[i] for i in predict])
            return [replace(h, forecasts=got.get(h.batch_id, {})) for h in histories]

        fold_histories = [supplied(train, valid) for train, valid in folds]
        final_histories = supplied(range(len(ids)), [])
    models = {}
    for fraction in sorted(fractions):
        def rows(hs: Sequence[BatchHistory], f: float = fraction) -> list[dict[str, float]]:
            return [batch_features(h.until(f), h.duration_h) for h in hs]

        models[float(fraction)] = _fit_fraction([rows(hs) for hs in fold_histories],
                                                rows(final_histories), y, folds, fraction,
                                                unit, target)
    return YieldModels(target, unit, float(np.median([h.duration_h for h in histories])),
                       ids, models)


def predict_final_titre(models: YieldModels, batch: PartialBatch) -> YieldPrediction:
    """Predict the final value of a running batch from what it recorded so far.

    Uses the model of the largest cut-off fraction not beyond the batch's elapsed share of
    the typical duration (features after the cut-off are ignored).
    """
    elapsed = batch.elapsed_h / models.typical_duration_h
    usable = [f for f in models.models if f <= elapsed + 1e-9]
    if not usable:
        first = min(models.models)
        raise ValidationError(
            f"batch {batch.batch_id} is {elapsed:.0%} through a typical "
            f"{models.typical_duration_h:g} h batch; the earliest model needs {first:.0%}")
    model = models.models[max(usable)]
    cut = PartialBatch(batch.batch_id, model.fraction * models.typical_duration_h,
                       batch.series, batch.lab, batch.forecasts)
    x = _matrix([batch_features(cut, models.typical_duration_h)], model.feature_names)
    value = float(np.ravel(model.pipeline.predict(x))[0])
    return YieldPrediction(batch.batch_id, models.target, models.unit, value,
                           value - model.half_width, value + model.half_width, elapsed,
                           model.fraction, model.accuracy_pct, model.drivers)
