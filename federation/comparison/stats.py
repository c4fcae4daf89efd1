"""Pure statistics of the site comparison: distribution summaries and process capability.

No I/O: lists of numbers in, plain values out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def summary(values: Sequence[float]) -> dict[str, float | int | None]:
    """n, mean, sample SD (n - 1), min, quartiles (linear interpolation), max."""
    data = sorted(float(v) for v in values)
    n = len(data)
    if n == 0:
        return {"n": 0, "mean": None, "sd": None, "min": None, "q1": None, "median": None,
                "q3": None, "max": None}
    mean = sum(data) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in data) / (n - 1)) if n > 1 else None
    return {"n": n, "mean": mean, "sd": sd, "min": data[0], "q1": _quantile(data, 0.25),
            "median": _quantile(data, 0.5), "q3": _quantile(data, 0.75), "max": data[-1]}


def _quantile(data: Sequence[float], q: float) -> float:
    position = (len(data) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (position - low)


@dataclass(frozen=True)
class Capability:
    """Process capability of one attribute at one site: ``cpk`` or why there is none."""

    cpk: float | None
    note: str

    def as_dict(self) -> dict[str, float | str | None]:
        return {"cpk": self.cpk, "note": self.note}


def cpk(values: Sequence[float], low: float | None, high: float | None) -> Capability:
    """Cpk = min(USL - mean, mean - LSL) / (3 s), one-sided when only one limit exists.

    ``s`` is the sample SD of the batch values (one value per batch, so it is the
    batch-to-batch SD and the index equals Ppk; there are no rational subgroups to estimate
    a within-subgroup SD from). No limit: no Cpk ("no spec"); fewer than 2 values or zero
    spread: no Cpk, said so. References: Montgomery, Introduction to Statistical Quality
    Control, ch. 8 (process capability ratios).
    """
    if low is None and high is None:
        return Capability(None, "no spec")
    stats = summary(values)
    n, mean, sd = stats["n"], stats["mean"], stats["sd"]
    if not n or n < 2 or mean is None or sd is None:
        return Capability(None, f"needs at least 2 batches; got {n}")
    if sd == 0:
        return Capability(None, "no spread between batches (SD 0)")
    sides = []
    if high is not None:
        sides.append((high - mean) / (3 * sd))
    if low is not None:
        sides.append((mean - low) / (3 * sd))
    kind = "two-sided" if len(sides) == 2 else ("lower limit only" if low is not None
                                                 else "upper limit only")
    return Capability(min(sides), f"{kind}; n={n}, s={sd:.4g} (batch-to-batch)")


#: Relative size (to the level) below which a spread or difference is rounding noise.
RELATIVE_NOISE = 1e-6


def separation(groups: Sequence[Sequence[float]]) -> float | None:
    """(highest group mean - lowest) / pooled within-group SD; None if it cannot be formed
    (fewer than 2 groups, no degrees of freedom, or no spread within the groups, see
    :func:`constant_within_groups`).

    The same measure as the ``site_differences`` question (a Cohen's d between the two most
    different sites)."""
    used = [list(map(float, g)) for g in groups if len(g) > 0]
    if len(used) < 2:
        return None
    means = [sum(g) / len(g) for g in used]
    dof = sum(len(g) for g in used) - len(used)
    noise = RELATIVE_NOISE * max(abs(m) for m in means)
    if dof <= 0 or max(max(g) - min(g) for g in used) <= noise:
        return None  # no spread within any group: the ratio would be rounding noise
    within = sum(sum((v - m) ** 2 for v in g) for g, m in zip(used, means, strict=True))
    return (max(means) - min(means)) / math.sqrt(within / dof)


def constant_within_groups(groups: Sequence[Sequence[float]]) -> bool:
    """True when no group varies (every SD below :data:`RELATIVE_NOISE` of the level) while
    the group means differ: e.g. a set point each site holds constant at its own value."""
    used = [list(map(float, g)) for g in groups if len(g) > 0]
    if len(used) < 2:
        return False
    means = [sum(g) / len(g) for g in used]
    level = max(abs(m) for m in means)
    noise = RELATIVE_NOISE * level
    spread = max(max(g) - min(g) for g in used)
    return spread <= noise and max(means) - min(means) > noise
