"""Proven acceptable ranges and CPP/CQA classification from a sending site's batches (no I/O).

Method (stated in every package):

* **Good batches** are the sending site's own reference batches for the process — the
  batches its envelopes were built from (complete, no deviation record, quality within
  specification; :mod:`bioprocess.analysis.envelope`). If the site has none, every complete
  batch is used and the package says so.
* **Proven acceptable range (PAR)** of a parameter in a phase: ``[min, max]`` of the aligned
  per-phase mean over the good batches — the range the site has *demonstrated* to give
  acceptable product. Alongside it, a two-sided normal tolerance interval (95 % coverage,
  95 % confidence; Howe 1969) of the same values, for the range a new batch would be
  expected in. At least :data:`MIN_BATCHES` good batches are needed.
* **CQA**: a parameter that is a quality result of the batches (e.g. final titre) or is the
  same quantity measured in process.
* **CPP**: a process parameter whose per-phase mean is significantly associated with the
  primary CQA over all the site's complete batches (Spearman rank correlation,
  Benjamini–Hochberg false discovery rate q < :data:`FDR`). Parameters that did not vary at
  the site (e.g. a fixed set point) are "not assessable" from its data; the others are
  "non-critical" (no significant association in the data available).

References
----------
.. [1] Howe WG (1969). Two-sided tolerance limits for normal populations — some
   improvements. JASA 64(326):610–620.
.. [2] Benjamini Y, Hochberg Y (1995). Controlling the false discovery rate. JRSS B
   57(1):289–300.
.. [3] ICH Q8(R2) (2009). Pharmaceutical development (proven acceptable range, CPP).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

MIN_BATCHES = 3
FDR = 0.05
COVERAGE = 0.95
CONFIDENCE = 0.95
RANGE_METHOD = (
    "Proven acceptable range = [min, max] of the aligned per-phase mean of the parameter over "
    "the sending site's good batches (its envelope reference batches); tolerance interval = "
    "mean ± k·sd with Howe's k for 95 % coverage at 95 % confidence over the same values.")
CLASSIFICATION_RULE = (
    "CQA: a quality result of the batches or the same quantity in process. CPP: per-phase mean "
    "significantly associated with the primary CQA over all the sending site's complete "
    "batches (Spearman, Benjamini-Hochberg FDR q < 0.05). Not assessable: no variation at the "
    "sending site. Non-critical: no significant association in the data available.")


@dataclass(frozen=True)
class ParameterRange:
    parameter: str
    phase: str
    unit: str
    lower: float
    upper: float
    median: float
    tolerance_low: float | None
    tolerance_high: float | None
    batches: tuple[str, ...]
    classification: str
    rho: float | None
    q_value: float | None


def howe_k(n: int, coverage: float = COVERAGE, confidence: float = CONFIDENCE) -> float:
    """Howe's two-sided normal tolerance factor for ``n`` values."""
    if n < 2:
        raise ValueError(f"a tolerance interval needs at least 2 values; got {n}")
    z = stats.norm.ppf((1 + coverage) / 2)
    chi2 = stats.chi2.ppf(1 - confidence, n - 1)
    return float(np.sqrt((n - 1) * (1 + 1 / n) * z**2 / chi2))


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values (q-values), in input order."""
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return []
    order = np.argsort(p)
    ranked = p[order] * p.size / np.arange(1, p.size + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(q)
    out[order] = np.minimum(q, 1.0)
    return out.tolist()


def proven_ranges(
    means: Mapping[tuple[str, str], Mapping[str, float]],
    units: Mapping[str, str],
    good: Sequence[str],
    cqa_values: Mapping[str, float],
    cqa_parameters: set[str],
) -> list[ParameterRange]:
    """One :class:`ParameterRange` per (parameter, phase) with enough good batches.

    ``means`` maps (parameter, phase) to {batch IRI: per-phase mean}; ``good`` are the good
    batches; ``cqa_values`` the primary CQA per batch (all complete batches);
    ``cqa_parameters`` the parameters that are CQAs.
    """
    good_set = set(good)
    candidates = []
    for (parameter, phase), values in sorted(means.items()):
        in_good = {b: v for b, v in values.items() if b in good_set and np.isfinite(v)}
        if len(in_good) < MIN_BATCHES:
            continue
        association = None
        if parameter not in cqa_parameters:
            paired = [(v, cqa_values[b]) for b, v in values.items() if b in cqa_values]
            xs = np.array([x for x, _ in paired])
            if len(paired) >= 5 and np.ptp(xs) > 1e-9 * max(1.0, float(np.abs(xs).max())):
                result = stats.spearmanr(xs, [y for _, y in paired])
                association = (float(result.statistic), float(result.pvalue))
        candidates.append((parameter, phase, in_good, association))
    tested = [i for i, c in enumerate(candidates) if c[3] is not None and np.isfinite(c[3][1])]
    q_values = dict(zip(tested, benjamini_hochberg([candidates[i][3][1] for i in tested]),
                        strict=True))
    ranges = []
    for i, (parameter, phase, in_good, association) in enumerate(candidates):
        values = np.array(list(in_good.values()))
        k = howe_k(values.size)
        mean, sd = float(values.mean()), float(values.std(ddof=1))
        q = q_values.get(i)
        if parameter in cqa_parameters:
            classification = "CQA"
        elif association is None or q is None:
            classification = "not assessable"
        elif q < FDR:
            classification = "CPP"
        else:
            classification = "non-critical"
        ranges.append(ParameterRange(
            parameter=parameter, phase=phase, unit=units.get(parameter, ""),
            lower=float(values.min()), upper=float(values.max()),
            median=float(np.median(values)),
            tolerance_low=mean - k * sd, tolerance_high=mean + k * sd,
            batches=tuple(sorted(in_good)), classification=classification,
            rho=None if association is None else association[0], q_value=q))
    return ranges
