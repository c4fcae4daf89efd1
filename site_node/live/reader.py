"""Read a process's batches from the site graph as the live twin sees them.

What the twin needs from a site's data (and nothing else):

* offline samples of viable cells, glucose, lactate, glutamine, ammonia and titre (any
  unit :mod:`bioprocess.units` knows), with their time since batch start;
* the temperature, DO and pH set-point series and the feed set point (a ``setpoint`` tag
  with a liquid-flow unit), from which the recipe the batch ran is read back;
* the batch's scale (``Batch.scale_l``), status, deviation records and quality results
  (the titre result, found through the alignment's quality attributes, is the outcome).

Assumption: the inoculation volume is ``INITIAL_FILL`` of the batch's scale (the feed rate
is expressed per initial volume); a site that fills differently changes only the feed
rate's scale, which the filter's parameters absorb.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from neo4j import Driver

from bioprocess.calibration import BatchObservations
from bioprocess.errors import NotFoundError, ValidationError
from bioprocess.recipe import Recipe
from site_node.live.vocabulary import (
    OFFLINE_PARAMETERS,
    SETPOINT_PARAMETERS,
    SiteVocabulary,
    is_flow_unit,
    site_vocabulary,
    to_canonical,
)

#: Inoculation volume as a fraction of the batch's scale (see the module docstring).
INITIAL_FILL = 0.7
NO_SHIFT_H = 1.0e6

_BATCHES = """
MATCH (b:Batch {process: $process, process_version: $version})
OPTIONAL MATCH (b)-[:HAS_DEVIATION]->(d:Deviation)
WITH b, count(d) AS deviations
OPTIONAL MATCH (b)-[:HAS_QUALITY_RESULT]->(q:QualityResult)
WITH b, deviations, collect(q {.attribute, .value, .unit, .spec_low, .spec_high}) AS quality
CALL (b) {
  OPTIONAL MATCH (b)-[:HAS_SERIES]->(ts:TimeSeries)-[:OF_TAG]->(t:Tag {kind: 'setpoint'})
  RETURN collect(ts {.tag, .unit, .t, .v}) AS setpoints
}
CALL (b) {
  OPTIONAL MATCH (b)-[:HAS_LAB_RESULT]->(l:LabResult) WHERE l.analyte IN $codes
  RETURN collect([l.analyte, l.unit, l.t_h, l.value]) AS lab
}
RETURN b.batch_id AS batch_id, b.status AS status, b.start AS start, b.end AS end,
       b.scale_l AS scale_l, b.site AS site, deviations, quality, setpoints, lab
ORDER BY b.start, b.batch_id
"""


@dataclass(frozen=True, eq=False)
class SiteBatch:
    """One batch as the live twin reads it (canonical units)."""

    batch_id: str
    status: str
    good: bool
    duration_h: float | None
    observations: BatchObservations
    final_titre: float | None


def _within_spec(quality: list[dict[str, Any]]) -> bool:
    return all((q["spec_low"] is None or q["value"] >= q["spec_low"])
               and (q["spec_high"] is None or q["value"] <= q["spec_high"]) for q in quality)


def _series(row: dict[str, Any], vocab: SiteVocabulary, parameter: str,
            batch_id: str) -> tuple[np.ndarray, np.ndarray] | None:
    names = set(vocab.names_for(parameter))
    for s in row["setpoints"]:
        if s["tag"] in names and len(s["t"]):
            conv = to_canonical(SETPOINT_PARAMETERS[parameter], s["unit"],
                                f"batch {batch_id}, tag {s['tag']}")
            return np.asarray(s["t"], float), conv(np.asarray(s["v"], float))
    return None


def _feed_series(row: dict[str, Any], vocab: SiteVocabulary, batch_id: str
                 ) -> tuple[np.ndarray, np.ndarray] | None:
    mapped = set(vocab.tags)
    flows = [s for s in row["setpoints"]
             if s["tag"] not in mapped and is_flow_unit(s["unit"]) and len(s["t"])]
    if len(flows) > 1:
        raise ValidationError(
            f"batch {batch_id}: the feed set point is read as the one set-point tag with a "
            f"liquid-flow unit; found {len(flows)} ({sorted(s['tag'] for s in flows)})")
    if not flows:
        return None
    s = flows[0]
    conv = to_canonical("liquid_flow", s["unit"], f"batch {batch_id}, tag {s['tag']}")
    return np.asarray(s["t"], float), conv(np.asarray(s["v"], float))


def _recipe(row: dict[str, Any], vocab: SiteVocabulary, duration_h: float,
            seed_density: float) -> Recipe:
    bid = row["batch_id"]
    needed = {}
    for parameter in SETPOINT_PARAMETERS:
        series = _series(row, vocab, parameter, bid)
        if series is None:
            raise ValidationError(
                f"batch {bid}: the live twin needs the {parameter} series (a set-point tag "
                f"mapped to tfp:{parameter} in the site's alignment); found none")
        needed[parameter] = series
    t_temp, temp = needed["temperature-set-point"]
    growth = float(np.median(temp[t_temp <= t_temp[0] + 24.0]))
    production = float(np.median(temp[t_temp >= t_temp[-1] - 24.0]))
    shift = NO_SHIFT_H
    if growth - production > 0.3:
        shift = float(t_temp[np.argmax(temp < (growth + production) / 2.0)])
    v0 = float(row["scale_l"] or 0.0) * INITIAL_FILL
    if v0 <= 0:
        raise ValidationError(f"batch {bid}: the batch scale (scale_l) must be > 0; "
                              f"found {row['scale_l']!r}")
    feed = _feed_series(row, vocab, bid)
    feed_start, feed_pct = NO_SHIFT_H, 0.0
    if feed is not None and np.max(feed[1]) > 0:
        on = feed[1] > 0.05 * np.max(feed[1])
        feed_start = float(feed[0][np.argmax(on)])
        feed_pct = float(np.median(feed[1][on])) * 24.0 / v0 * 100.0
    return Recipe(
        seed_density=seed_density, initial_volume_l=v0, temp_growth_c=growth,
        temp_production_c=production, temp_shift_h=shift,
        do_setpoint_pct=float(np.median(needed["dissolved-oxygen-set-point"][1])),
        ph_setpoint=float(np.median(needed["ph-set-point"][1])),
        feed_start_h=feed_start, feed_pct_per_day=feed_pct, duration_h=duration_h)


def _observations(row: dict[str, Any], vocab: SiteVocabulary
                  ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    code_state = {code: OFFLINE_PARAMETERS[p] for code, p in vocab.tags.items()
                  if p in OFFLINE_PARAMETERS}
    rows: dict[str, list[tuple[float, float]]] = {}
    for code, unit, t_h, value in row["lab"]:
        if code not in code_state or t_h is None or value is None:
            continue
        state, quantity = code_state[code]
        conv = to_canonical(quantity, unit, f"batch {row['batch_id']}, lab code {code}")
        rows.setdefault(state, []).append((float(t_h), float(conv(value))))
    return {s: (np.asarray([t for t, _ in sorted(v)]), np.asarray([x for _, x in sorted(v)]))
            for s, v in rows.items()}


def _final_titre(row: dict[str, Any], vocab: SiteVocabulary) -> float | None:
    names = set(vocab.attributes_for("titre"))
    for q in row["quality"]:
        if q["attribute"] in names:
            conv = to_canonical("titre", q["unit"], f"batch {row['batch_id']}, quality "
                                                    f"{q['attribute']}")
            return float(conv(q["value"]))
    return None


def _duration(row: dict[str, Any]) -> float | None:
    if row.get("end") is None:
        return None
    end, start = (getattr(v, "to_native", lambda v=v: v)() for v in (row["end"], row["start"]))
    return (end - start).total_seconds() / 3600.0


def read_process_batches(driver: Driver, site_code: str, process: str, version: str,
                         database: str | None = None) -> list[SiteBatch]:
    """Every batch of the process, with a common planned duration (median of complete ones)."""
    vocab = site_vocabulary(site_code)
    codes = [c for c, p in vocab.tags.items() if p in OFFLINE_PARAMETERS]
    rows, _, _ = driver.execute_query(_BATCHES, process=process, version=version, codes=codes,
                                      database_=database, routing_="r")
    rows = [dict(r) for r in rows]
    durations = [d for r in rows if r["status"] == "complete" and (d := _duration(r))]
    if not durations:
        raise NotFoundError(f"process {process}@{version} at {site_code} has no complete batch "
                            "to learn from")
    planned = float(np.round(np.median(durations)))
    return [site_batch(r, vocab, planned) for r in rows]


def site_batch(row: dict[str, Any], vocab: SiteVocabulary, planned_h: float) -> SiteBatch:
    """One batch from its row: ``batch_id``, ``status``, ``start``/``end`` (or None),
    ``scale_l``, ``deviations`` (count), ``quality`` (attribute, value, unit, spec limits),
    ``setpoints`` (set-point tags: tag, unit, t, v) and ``lab`` ([code, unit, t_h, value])."""
    data = _observations(row, vocab)
    if "xv" not in data or data["xv"][0][0] > 24.0:
        raise ValidationError(f"batch {row['batch_id']}: the live twin needs a viable-cell "
                              "count in the first 24 h (the inoculum); found none")
    recipe = _recipe(row, vocab, planned_h, float(data["xv"][1][0]))
    return SiteBatch(
        batch_id=row["batch_id"], status=row["status"],
        good=row["status"] == "complete" and row["deviations"] == 0
        and _within_spec(row["quality"]),
        duration_h=_duration(row),
        observations=BatchObservations(row["batch_id"], recipe, data),
        final_titre=_final_titre(row, vocab))


def batch_process(driver: Driver, batch_id: str, database: str | None = None
                  ) -> tuple[str, str, str]:
    """(site, process, version) of a batch, or a clear not-found error."""
    rows, _, _ = driver.execute_query(
        "MATCH (b:Batch {batch_id: $id}) RETURN b.site AS site, b.process AS process, "
        "b.process_version AS version", id=batch_id, database_=database, routing_="r")
    if not rows:
        raise NotFoundError(f"batch {batch_id!r} is not in this site's graph")
    return rows[0]["site"], rows[0]["process"], rows[0]["version"]
