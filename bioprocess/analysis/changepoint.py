"""Optimal partition of a multivariate signal into contiguous piecewise-linear segments.

Pure numerics for :mod:`bioprocess.analysis.phases`: given a signal ``y`` of shape
``(n, p)`` on an equally spaced grid, find for each number of segments ``K`` the partition
that minimises the total residual sum of squares of per-column straight-line fits inside
each segment (so both level steps and slope changes count), by dynamic programming over
all admissible boundaries.

References
----------
.. [1] Bellman, R. (1961). On the approximation of curves by line segments using dynamic
   programming. *Communications of the ACM* 4(6), 284.
.. [2] Jackson, B. et al. (2005). An algorithm for optimal partitioning of data on an
   interval. *IEEE Signal Processing Letters* 12(2), 105-108.
.. [3] Truong, C., Oudre, L., Vayatis, N. (2020). Selective review of offline change point
   detection methods. *Signal Processing* 167, 107299.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Partition:
    """Best partitions for ``K = 1 .. len(costs)`` segments.

    Attributes
    ----------
    costs : residual sum of squares of the best ``K``-segment partition, index ``K - 1``
        (``inf`` when ``K`` segments of the minimum size do not fit).
    boundaries : for each ``K``, the ``K - 1`` inner boundaries as grid indices (a segment
        ``[a, b)`` covers grid points ``a .. b-1``).
    """

    costs: np.ndarray
    boundaries: tuple[tuple[int, ...], ...]


def _pair_sums(prefix_a: np.ndarray, prefix_b: np.ndarray) -> np.ndarray:
    """``M[a, b] = sum_j (A[b, j] - A[a, j]) * (B[b, j] - B[a, j])`` for prefix sums A, B."""
    gram = prefix_a @ prefix_b.T  # gram[i, k] = A_i . B_k
    diag = np.diag(gram)
    return diag[None, :] - gram.T - gram + diag[:, None]


def segment_costs(y: np.ndarray) -> np.ndarray:
    """Residual sum of squares of a line fit to ``y[a:b]``, for every ``0 <= a < b <= n``.

    Returns an ``(n + 1, n + 1)`` array ``C`` with ``C[a, b]`` the cost summed over the
    columns of ``y`` (``inf`` where ``b <= a``). Computed in closed form from prefix sums;
    the sums over columns are Gram matrices of the prefix sums, so the work is a few
    ``(n + 1) x p`` matrix products.
    """
    n = y.shape[0]
    x = np.arange(n, dtype=float) - 0.5 * (n - 1)  # centred: smaller prefix sums
    zero = np.zeros((1, y.shape[1]))
    s_y = np.concatenate([zero, np.cumsum(y, axis=0)])
    s_xy = np.concatenate([zero, np.cumsum(x[:, None] * y, axis=0)])
    s_yy = np.concatenate([[0.0], np.cumsum(np.sum(y * y, axis=1))])
    s_x = np.concatenate([[0.0], np.cumsum(x)])
    s_xx = np.concatenate([[0.0], np.cumsum(x * x)])

    cnt = np.arange(n + 1, dtype=float)
    m = cnt[None, :] - cnt[:, None]  # b - a
    with np.errstate(divide="ignore", invalid="ignore"):
        sx = s_x[None, :] - s_x[:, None]
        vxx = (s_xx[None, :] - s_xx[:, None]) - sx * sx / m
        syy = s_yy[None, :] - s_yy[:, None]
        level = _pair_sums(s_y, s_y) / m
        c = sx / m
        cross2 = (_pair_sums(s_xy, s_xy) - 2.0 * c * _pair_sums(s_xy, s_y)
                  + c * c * _pair_sums(s_y, s_y))
        slope = np.where(vxx > 1e-9, cross2 / vxx, 0.0)
        cost = syy - level - slope
    return np.where(m > 0, np.maximum(cost, 0.0), np.inf)


def optimal_partitions(y: np.ndarray, max_segments: int, min_size: int) -> Partition:
    """Best partitions of ``y`` into ``1 .. max_segments`` segments of ``>= min_size`` points.

    Parameters
    ----------
    y : ``(n, p)`` signal on an equally spaced grid (already scaled and weighted).
    max_segments : largest number of segments considered.
    min_size : minimum number of grid points per segment.
    """
    n = y.shape[0]
    cost = segment_costs(y)
    lengths = np.arange(n + 1)[None, :] - np.arange(n + 1)[:, None]
    cost = np.where(lengths >= min_size, cost, np.inf)

    best = cost[0].copy()  # best[b]: best cost of covering [0, b) with k segments
    back: list[np.ndarray] = []
    costs = [best[n]]
    for _ in range(1, max_segments):
        total = best[:, None] + cost
        arg = np.argmin(total, axis=0)
        best = total[arg, np.arange(n + 1)]
        back.append(arg)
        costs.append(best[n])

    boundaries: list[tuple[int, ...]] = [()]
    for k in range(1, max_segments):
        cuts: list[int] = []
        b = n
        for level in range(k - 1, -1, -1):
            b = int(back[level][b])
            cuts.append(b)
        boundaries.append(tuple(sorted(cuts)))
    return Partition(costs=np.asarray(costs, dtype=float), boundaries=tuple(boundaries))
