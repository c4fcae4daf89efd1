"""What drives a model, in words: PLS VIP regions and permutation importances.

VIP (variable importance in projection) ranks channels by their weight in the PLS
components, scaled by the variance of the target each component explains; channels with
VIP > 1 matter more than average. Permutation importance shuffles one block of inputs
(a window of the axis, or one tabular feature) across samples and measures how much the
error grows: it works for any model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sklearn.cross_decomposition import PLSRegression


def vip_scores(pls: PLSRegression) -> np.ndarray:
    """VIP of each input column of a fitted single-target PLS regression."""
    t, w, q = pls.x_scores_, pls.x_weights_, pls.y_loadings_
    explained = np.sum(t**2, axis=0) * np.sum(q**2, axis=0)
    weights = (w / np.linalg.norm(w, axis=0)) ** 2
    total = explained.sum() or 1.0
    return np.sqrt(w.shape[0] * (weights @ explained) / total)


def vip_regions(vip: np.ndarray, axis: np.ndarray, top: int = 5, unit: str = "cm⁻¹",
                gap: float | None = None) -> list[str]:
    """Contiguous axis regions with VIP > 1, strongest first, as sentences."""
    above = vip > 1.0
    if not above.any():
        return ["no region has a VIP above 1: the model spreads its weight evenly"]
    step = float(np.median(np.diff(axis))) if axis.size > 1 else 1.0
    gap = gap if gap is not None else 3 * step
    regions: list[list[int]] = []
    for i in np.flatnonzero(above):
        if regions and axis[i] - axis[regions[-1][-1]] <= gap:
            regions[-1].append(i)
        else:
            regions.append([i])
    scored = sorted(regions, key=lambda r: -float(np.sum(vip[r])))
    words = []
    for region in scored[:top]:
        low, high = axis[region[0]], axis[region[-1]]
        words.append(f"{low:.0f}–{high:.0f} {unit}: VIP up to {vip[region].max():.1f} "
                     f"({len(region)} channels)")
    return words


def permutation_importance_blocks(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray,  # noqa: N803
                                  y: np.ndarray, blocks: Sequence[np.ndarray],
                                  repeats: int = 3, seed: int = 0) -> np.ndarray:
    """Mean rise of the RMSE when the columns of each block are shuffled together."""
    rng = np.random.default_rng(seed)
    base = float(np.sqrt(np.mean((predict(X) - y) ** 2)))
    rises = np.zeros(len(blocks))
    for b, columns in enumerate(blocks):
        total = 0.0
        for _ in range(repeats):
            shuffled = X.copy()
            order = rng.permutation(X.shape[0])
            shuffled[:, columns] = X[order][:, columns]
            total += float(np.sqrt(np.mean((predict(shuffled) - y) ** 2))) - base
        rises[b] = total / repeats
    return rises


def axis_windows(axis: np.ndarray, selected: np.ndarray, n_windows: int = 20
                 ) -> list[np.ndarray]:
    """The selected channels cut into ``n_windows`` windows of equal channel count."""
    return [w for w in np.array_split(selected, min(n_windows, selected.size)) if w.size]


def describe_permutation(rises: np.ndarray, labels: Sequence[str], base_rmse: float,
                         unit: str, top: int = 5) -> list[str]:
    order = np.argsort(-rises)
    words = []
    for i in order[:top]:
        if rises[i] <= 0:
            break
        pct = 100 * rises[i] / base_rmse if base_rmse > 0 else float("nan")
        words.append(f"shuffling {labels[i]} raises the error by {rises[i]:.3g} {unit} "
                     f"(+{pct:.0f} % RMSE)")
    return words or ["no input block raises the error when shuffled"]
