"""The regression candidates a soft sensor is chosen from: PLS, SVR, gradient boosting."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sklearn.base import RegressorMixin
from sklearn.compose import TransformedTargetRegressor
from sklearn.cross_decomposition import PLSRegression
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR

ALGORITHMS = ("pls", "svr", "gbr")
ALGORITHM_NAMES = {"pls": "partial least squares regression",
                   "svr": "support vector regression (RBF kernel)",
                   "gbr": "gradient boosting regression (trees)"}


@dataclass(frozen=True)
class Candidate:
    algorithm: str
    params: dict[str, Any] = field(default_factory=dict)
    build: Callable[[], RegressorMixin] | None = None

    def make(self) -> RegressorMixin:
        assert self.build is not None
        return self.build()

    @property
    def label(self) -> str:
        params = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.algorithm.upper()} ({params})"


def _pls(k: int) -> Callable[[], RegressorMixin]:
    return lambda: PLSRegression(n_components=k, scale=False)


def _svr(c: float) -> Callable[[], RegressorMixin]:
    # Target standardised inside: C and epsilon mean the same for g/L and mg/L targets.
    return lambda: TransformedTargetRegressor(SVR(C=c, epsilon=0.05, gamma="scale"),
                                              transformer=StandardScaler())


def _gbr(n: int, depth: int, seed: int) -> Callable[[], RegressorMixin]:
    return lambda: GradientBoostingRegressor(n_estimators=n, max_depth=depth,
                                             learning_rate=0.05, subsample=0.8,
                                             max_features="sqrt", random_state=seed)


def candidates(algorithms: tuple[str, ...], n_train_rows: int, seed: int = 0
               ) -> list[Candidate]:
    """The hyper-parameter grid of each requested algorithm."""
    unknown = set(algorithms) - set(ALGORITHMS)
    if unknown:
        from bioprocess.errors import ValidationError

        raise ValidationError(f"unknown algorithm(s) {sorted(unknown)}; choose from "
                              f"{', '.join(ALGORITHMS)}")
    grid: list[Candidate] = []
    if "pls" in algorithms:
        grid += [Candidate("pls", {"n_components": k}, _pls(k))
                 for k in range(1, max(2, min(10, n_train_rows // 3)) + 1)]
    if "svr" in algorithms:
        grid += [Candidate("svr", {"C": c, "epsilon": 0.05, "gamma": "scale"}, _svr(c))
                 for c in (1.0, 10.0, 100.0)]
    if "gbr" in algorithms:
        grid += [Candidate("gbr", {"n_estimators": n, "max_depth": d, "learning_rate": 0.05},
                           _gbr(n, d, seed)) for n, d in ((150, 2),)]
    return grid
