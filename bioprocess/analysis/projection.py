"""PCA on autoscaled unfolded batches, and projection of (possibly incomplete) batches.

Pure linear algebra for :mod:`bioprocess.analysis.mvda`. Variables are ordered slice-major
(``n_slices`` blocks of ``n_tags``), which is what the time-resolved statistics use.

Incomplete batches (missing variables, or a batch in progress) are projected with the
known-data regression ("projection to the model plane"): the scores are the least-squares
fit of the observed variables by the loadings, ``t = pinv(P_o' P_o) P_o' z_o``; with every
variable observed this is the ordinary projection ``t = P' z``.

References
----------
.. [1] Nelson, P. R. C., Taylor, P. A., MacGregor, J. F. (1996). Missing data methods in
   PCA and PLS: score calculations with incomplete observations. *Chemometrics Intell.
   Lab. Syst.* 35(1), 45-65.
.. [2] Nomikos, P., MacGregor, J. F. (1995). Multivariate SPC charts for monitoring batch
   processes. *Technometrics* 37(1), 41-59 (instantaneous SPE of a time slice).
.. [3] Kourti, T., MacGregor, J. F. (1996). Multivariate SPC methods for process and
   product monitoring. *J. Quality Technology* 28(4), 409-428 (contributions).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class PcaState:
    """An autoscaled PCA model of unfolded batches."""

    mean: np.ndarray  # (J,)
    scale: np.ndarray  # (J,)
    loadings: np.ndarray  # (J, A)
    eigenvalues: np.ndarray  # (A,) score variances
    residual_eigenvalues: np.ndarray  # eigenvalues of the unmodelled components
    explained_ratio: np.ndarray  # every component's share of the total variance
    active: np.ndarray  # (J,) bool: variables that are part of the model


@dataclass(frozen=True, eq=False)
class Projection:
    """One batch projected on a model: batch-level and time-resolved statistics."""

    scores: np.ndarray  # (A,) final scores
    t2: float
    spe: float
    coverage: float  # observed fraction of the model's variables
    t2_time: np.ndarray  # (K,) T² from the data up to and including each slice
    spe_time: np.ndarray  # (K,) instantaneous SPE of each slice (NaN: slice unobserved)
    t2_contrib: np.ndarray  # (T,) per tag
    spe_contrib: np.ndarray  # (T,) per tag
    resid2: np.ndarray  # (J,) squared residuals of the observed variables (NaN: unobserved)


def autoscale(x: np.ndarray, floor: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations ignoring NaN, sds floored at ``floor`` (or 1)."""
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(x, axis=0)
        scale = np.nanstd(x, axis=0, ddof=1)
    if floor is not None:
        scale = np.fmax(scale, floor)
    scale[~(scale > 0)] = 1.0
    return mean, scale


def fit_pca(x: np.ndarray, n_components: int | None, *, explained: float = 0.9,
            max_components: int = 5, scale_floor: np.ndarray | None = None) -> PcaState:
    """PCA of ``x`` (rows = batches, NaN imputed by the column mean after scaling).

    ``n_components=None`` picks the smallest ``A`` reaching ``explained`` cumulative
    variance, capped by ``max_components`` and by ``N - 2``.
    """
    n = x.shape[0]
    mean, scale = autoscale(x, scale_floor)
    z = np.nan_to_num((x - mean) / scale, nan=0.0)
    # N << J: eigen-decompose the N x N Gram matrix instead of the SVD of Z (same result).
    w, u = np.linalg.eigh(z @ z.T)
    order = np.argsort(w)[::-1]
    w, u = np.clip(w[order], 0.0, None), u[:, order]
    rank = int(np.sum(w > 1e-10 * max(w[0], 1e-300)))
    s = np.sqrt(w[:rank])
    vt = (u[:, :rank] / s).T @ z
    lam = w / (n - 1)
    ratio = lam / lam.sum() if lam.sum() > 0 else np.zeros_like(lam)
    if n_components is None:
        reach = int(np.searchsorted(np.cumsum(ratio), explained - 1e-12) + 1)
        n_components = max(1, min(reach, max_components, n - 2, rank))
    a = n_components
    a = min(a, rank)
    return PcaState(mean, scale, vt[:a].T.copy(), lam[:a].copy(), lam[a:].copy(), ratio,
                    np.ones(x.shape[1], dtype=bool))


def project(state: PcaState, x: np.ndarray, n_tags: int, *,
            residual_profile: np.ndarray | None = None, rcond: float = 1e-8) -> Projection:
    """Project one unfolded batch ``x`` (``(J,)`` with NaN) on ``state``.

    With variables missing, SPE is scaled up to the whole model (and ``SPE(k)`` to the whole
    slice) by the share of the expected squared residual that was observed:
    ``sum_obs e² * sum_all r / sum_obs r``, where ``r`` is ``residual_profile`` (the mean
    squared residual of each variable in held-out reference batches), or uniform.
    """
    p = state.loadings
    k = p.shape[0] // n_tags
    a = p.shape[1]
    z = (x - state.mean) / state.scale
    seen = np.isfinite(z) & state.active
    z0 = np.where(seen, z, 0.0)
    p3 = p.reshape(k, n_tags, a)
    m3 = seen.reshape(k, n_tags)
    z3 = z0.reshape(k, n_tags)
    weight = state.active.astype(float) if residual_profile is None else np.where(
        state.active, residual_profile, 0.0)
    w3 = weight.reshape(k, n_tags)
    gram = np.cumsum(np.einsum("kt,kta,ktb->kab", m3.astype(float), p3, p3), axis=0)
    rhs = np.cumsum(np.einsum("kt,kta->ka", z3, p3), axis=0)
    scores_k = np.einsum("kab,kb->ka", np.linalg.pinv(gram, rcond=rcond), rhs)
    lam = state.eigenvalues
    t2_time = np.sum(scores_k**2 / lam, axis=1)
    fit_k = np.einsum("kta,ka->kt", p3, scores_k)
    w_seen = np.sum(np.where(m3, w3, 0.0), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        spe_time = np.where(m3.any(axis=1) & (w_seen > 0),
                            np.sum(np.where(m3, (z3 - fit_k) ** 2, 0.0), axis=1)
                            * w3.sum(axis=1) / w_seen, np.nan)
    scores = scores_k[-1]
    resid = np.where(m3, z3 - (p3 @ scores), 0.0)
    n_obs = int(seen.sum())
    j_model = int(state.active.sum())
    observed_share = float(np.sum(weight[seen]) / np.sum(weight)) if np.sum(weight) > 0 else 0
    spe = float(np.sum(resid**2) / observed_share) if observed_share > 0 else float("nan")
    t2_contrib = np.einsum("kta,a,kt->t", p3, scores / lam, z3)
    return Projection(scores=scores, t2=float(np.sum(scores**2 / lam)), spe=spe,
                      coverage=n_obs / j_model if j_model else 0.0,
                      t2_time=t2_time, spe_time=spe_time,
                      t2_contrib=t2_contrib, spe_contrib=np.sum(resid**2, axis=0),
                      resid2=np.where(seen, (z - np.where(seen, p @ scores, 0.0)) ** 2,
                                      np.nan))
