"""One batch's reference envelope for one tag, on the batch's own clock (hours since start).

Envelopes are stored on a phase-registered clock (each phase mapped to [0, 1]); a reader
who wants to draw a batch against its envelope needs the band in the batch's hours. Each
phase of the batch (the phases its analysis used: recipe phases, or the inferred ones)
stretches the envelope's grid of the phase of the same name over its own start and length.
Phases the envelope does not know are left out (a gap in the band, ``null`` values).
"""

from __future__ import annotations

import math
from typing import Any

from neo4j import Driver

from bioprocess.errors import NotFoundError

_QUERY = """
MATCH (b:Batch {batch_id: $id})
OPTIONAL MATCH (e:Envelope {process: b.process, version: b.process_version, tag: $tag})
OPTIONAL MATCH (b)-[:HAS_ANALYSIS_PHASE]->(inferred:Phase)
WITH b, e, collect(inferred {.name, .start_h, .end_h}) AS inferred
OPTIONAL MATCH (b)-[:HAS_UNIT_OPERATION]->(:UnitOperation)-[:HAS_PHASE]->(recipe:Phase)
RETURN b.phase_source AS source, b.start AS start, b.end AS end, e {.*} AS envelope,
       inferred, collect(recipe {.name, .start_h, .end_h}) AS recipe
"""


def _finite(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def envelope_for_batch(driver: Driver, batch_id: str, tag: str,
                       database: str | None = None) -> dict[str, Any]:
    """The envelope of ``tag`` for the batch's process, laid over the batch's phases."""
    rows, _, _ = driver.execute_query(_QUERY, id=batch_id, tag=tag, database_=database,
                                      routing_="r")
    if not rows:
        raise NotFoundError(f"batch '{batch_id}' is not stored at this site")
    row = rows[0]
    env = row["envelope"]
    if env is None:
        raise NotFoundError(f"the process of batch '{batch_id}' has no envelope for tag "
                            f"'{tag}' (too few good batches, or the tag is not analysed)")
    phases = row["inferred"] if row["source"] not in (None, "recipe") and row["inferred"] \
        else row["recipe"]
    phases = sorted((p for p in phases if p["name"] is not None), key=lambda p: p["start_h"])
    duration = None
    if row["start"] is not None and row["end"] is not None:
        duration = (row["end"].to_native() - row["start"].to_native()).total_seconds() / 3600
    names = list(env["phase_names"])
    grid = list(env["grid"])
    width = len(grid)
    t_h: list[float | None] = []
    lower: list[float | None] = []
    mean: list[float | None] = []
    upper: list[float | None] = []
    for index, phase in enumerate(phases):
        if phase["name"] not in names:
            continue
        row_at = names.index(phase["name"]) * width
        end = phase["end_h"]
        if end is None:
            end = phases[index + 1]["start_h"] if index + 1 < len(phases) else duration
        if end is None or not end > phase["start_h"]:
            continue
        length = end - phase["start_h"]
        if t_h:  # break the drawn band between phases
            t_h.append(None), lower.append(None), mean.append(None), upper.append(None)
        for i, u in enumerate(grid):
            t_h.append(phase["start_h"] + u * length)
            lower.append(_finite(env["lower"][row_at + i]))
            mean.append(_finite(env["mean"][row_at + i]))
            upper.append(_finite(env["upper"][row_at + i]))
    return {"batch_id": batch_id, "tag": tag, "unit": env.get("unit"), "k": env.get("k"),
            "reference_batches": env.get("n_batches"), "t_h": t_h, "lower": lower,
            "mean": mean, "upper": upper}
