"""Applicability domain of a spectral model: Hotelling T² and Q residual against a PCA of the
preprocessed training spectra, with limits at 95 % and 99 %.

Limits are fitted (Box's ``g chi²_h``) to *out-of-fold* T² and Q values — spectra of each
training batch projected on a PCA fitted without that batch — so a normal spectrum of a new
batch is judged against what new batches look like, not against the training spectra's own
(smaller) residuals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA

from bioprocess.analysis.limits import box_limit


def _components(X: np.ndarray, max_components: int) -> int:  # noqa: N803
    pca = PCA(n_components=min(max_components, X.shape[0] - 1, X.shape[1]),
              svd_solver="full").fit(X)
    explained = np.cumsum(pca.explained_variance_ratio_)
    return int(min(np.searchsorted(explained, 0.95) + 1, explained.size))


@dataclass
class DomainModel:
    """A PCA of the training spectra (preprocessed, scaled) and the T²/Q limits."""

    pca: PCA
    t2_limit_95: float
    t2_limit_99: float
    q_limit_95: float
    q_limit_99: float

    def scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # noqa: N803
        return _t2_q(self.pca, X)

    def describe(self) -> str:
        return (f"PCA with {self.pca.n_components_} components of the preprocessed training "
                f"spectra; Hotelling T² limits {self.t2_limit_95:.3g} (95 %) / "
                f"{self.t2_limit_99:.3g} (99 %), Q residual limits {self.q_limit_95:.3g} (95 %) "
                f"/ {self.q_limit_99:.3g} (99 %); a spectrum beyond a 99 % limit is out of "
                "domain")

    def as_dict(self) -> dict[str, float]:
        return {"components": int(self.pca.n_components_), "t2_limit_95": self.t2_limit_95,
                "t2_limit_99": self.t2_limit_99, "q_limit_95": self.q_limit_95,
                "q_limit_99": self.q_limit_99}


def _t2_q(pca: PCA, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # noqa: N803
    scores = pca.transform(X)
    t2 = np.sum(scores**2 / pca.explained_variance_, axis=1)
    residual = X - pca.inverse_transform(scores)
    return t2, np.sum(residual**2, axis=1)


def fit_domain(X: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]],  # noqa: N803
               max_components: int = 10) -> DomainModel:
    """The domain of ``X`` (rows = training spectra after preprocessing and scaling)."""
    k = _components(X, max_components)
    t2_oof, q_oof = np.full(X.shape[0], np.nan), np.full(X.shape[0], np.nan)
    for train, valid in folds:
        pca = PCA(n_components=min(k, train.size - 1), svd_solver="full").fit(X[train])
        t2_oof[valid], q_oof[valid] = _t2_q(pca, X[valid])
    pca = PCA(n_components=k, svd_solver="full").fit(X)
    return DomainModel(pca, box_limit(t2_oof, 0.95), box_limit(t2_oof, 0.99),
                       box_limit(q_oof, 0.95), box_limit(q_oof, 0.99))
