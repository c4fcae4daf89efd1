"""Drift of a soft sensor in use: a rising share of out-of-domain spectra, or a bias of its
estimates against lab values that the model's cross-validated error cannot explain."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Recent estimates judged (the last N, chronological).
WINDOW = 50
#: More than this share of recent estimates out of domain is drift.
OUT_OF_DOMAIN_LIMIT = 0.2
#: Fewest estimates (or lab comparisons) a judgement needs.
MIN_ESTIMATES = 10
MIN_COMPARISONS = 5


@dataclass(frozen=True)
class DriftFinding:
    kind: str  # "out_of_domain_share" or "bias"
    value: float
    limit: float
    n: int
    description: str


def check_drift(in_domain: np.ndarray, residuals: np.ndarray, *, rmsecv: float, unit: str,
                window: int = WINDOW) -> list[DriftFinding]:
    """``in_domain``: flags of all estimates, oldest first; ``residuals``: estimate minus lab
    value where a lab value was paired (in-domain estimates only), oldest first.

    Bias is drift when the mean of the recent residuals is both statistically (beyond
    2 standard errors of the model's cross-validated error, ``2 rmsecv / sqrt(n)``) and
    practically (beyond half the cross-validated error) different from zero.
    """
    findings = []
    recent = np.asarray(in_domain, bool)[-window:]
    if recent.size >= MIN_ESTIMATES:
        share = float(np.mean(~recent))
        if share > OUT_OF_DOMAIN_LIMIT:
            findings.append(DriftFinding(
                "out_of_domain_share", share, OUT_OF_DOMAIN_LIMIT, int(recent.size),
                f"{share:.0%} of the last {recent.size} spectra are outside the model's "
                f"applicability domain (limit {OUT_OF_DOMAIN_LIMIT:.0%})"))
    res = np.asarray(residuals, float)
    res = res[np.isfinite(res)][-window:]
    if res.size >= MIN_COMPARISONS and rmsecv > 0:
        bias = float(res.mean())
        limit = max(2 * rmsecv / np.sqrt(res.size), 0.5 * rmsecv)
        if abs(bias) > limit:
            findings.append(DriftFinding(
                "bias", bias, limit, int(res.size),
                f"estimates are biased by {bias:+.3g} {unit} against the last {res.size} lab "
                f"values (limit ±{limit:.3g} {unit} from the cross-validated error "
                f"{rmsecv:.3g} {unit})"))
    return findings
