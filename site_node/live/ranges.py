"""Proven acceptable ranges of the process at this site, from its own good batches.

Method: for each lever of the recommendation search, the observed range (minimum to
maximum) of the set point the site actually ran across its **good** batches of the process
(complete, no deviation record, every quality result within its specification; the same
rule the site analytics use for reference envelopes). Nothing is extrapolated: a lever the
site has always run at one value has a one-point range, so the twin will not move it. With
fewer than ``MIN_GOOD_BATCHES`` good batches no range is proven and nothing is recommended.
"""

from __future__ import annotations

from collections.abc import Sequence

from bioprocess.live.recommend import LEVERS, ProvenRange
from site_node.live.reader import NO_SHIFT_H, SiteBatch

MIN_GOOD_BATCHES = 3
METHOD = ("observed min-max of the set point across the site's good batches of the process "
          "(complete, no deviation record, quality within specification); no extrapolation")


def proven_ranges(batches: Sequence[SiteBatch]) -> dict[str, ProvenRange]:
    """The proven range of each lever, or an empty mapping when too few batches are good."""
    good = [b for b in batches if b.good]
    if len(good) < MIN_GOOD_BATCHES:
        return {}
    out = {}
    for lever, unit in LEVERS.items():
        values = [float(getattr(b.observations.recipe, lever)) for b in good]
        if lever == "temp_shift_h":
            values = [v for v in values if v < NO_SHIFT_H]
        if len(values) < MIN_GOOD_BATCHES:
            continue
        out[lever] = ProvenRange(lever, min(values), max(values), unit, METHOD,
                                 tuple(sorted(b.batch_id for b in good)))
    return out
