"""Load a process's batches from Neo4j, analyse them, store the results, bump revisions.

Per process at the site: the reference (good) batches are those that completed, have no
deviation record and whose quality results are all within their specs; when fewer than
``min_batches`` qualify, every complete batch is the reference pool (flagged in the notes).
Results are owned by their batch (``HAS_FEATURE``, ``HAS_DEVIATION_EVENT``,
``HAS_EVOLUTION``, ``HAS_ANALYSIS_PHASE``) and replaced as a whole; a batch whose results
changed gets a new site revision, so the next sync carries it.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from neo4j import Driver, ManagedTransaction

from bioprocess.analysis.site import AnalysisOptions, SiteAnalysis, analyse_site
from bioprocess.analysis.trajectories import BatchTrajectories, PhaseSpan

_BATCHES = """
MATCH (b:Batch {process: $process, process_version: $version})
OPTIONAL MATCH (b)-[:HAS_UNIT_OPERATION]->(:UnitOperation)-[:HAS_PHASE]->(ph:Phase)
WITH b, collect(ph {.name, .start_h, .end_h}) AS phases
OPTIONAL MATCH (b)-[:HAS_DEVIATION]->(d:Deviation)
WITH b, phases, count(d) AS deviations
OPTIONAL MATCH (b)-[:HAS_QUALITY_RESULT]->(q:QualityResult)
RETURN b.batch_id AS batch_id, b.status AS status, b.start AS start, b.end AS end,
       phases, deviations,
       collect(q {.value, .spec_low, .spec_high}) AS quality
ORDER BY b.start, b.batch_id
"""
_SERIES = """
MATCH (b:Batch {process: $process, process_version: $version})-[:HAS_SERIES]->(ts)
RETURN b.batch_id AS batch_id, ts.tag AS tag, ts.unit AS unit, ts.t AS t, ts.v AS v
"""
_LAB = """
MATCH (b:Batch {process: $process, process_version: $version})-[:HAS_LAB_RESULT]->(l)
RETURN b.batch_id AS batch_id, l.analyte AS tag, l.unit AS unit,
       collect([l.t_h, l.value]) AS samples
"""


@dataclass
class AnalysisReport:
    """What ``twinfed site analyse`` did, per process."""

    processes: dict[str, SiteAnalysis] = field(default_factory=dict)
    changed_batches: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _within_spec(quality: list[dict[str, Any]]) -> bool:
    for q in quality:
        if q["spec_low"] is not None and q["value"] < q["spec_low"]:
            return False
        if q["spec_high"] is not None and q["value"] > q["spec_high"]:
            return False
    return True


def load_trajectories(driver: Driver, process: str, version: str,
                      database: str | None = None
                      ) -> tuple[list[BatchTrajectories], set[str], set[str]]:
    """Every batch of the process as trajectories, plus the good and the complete ids."""
    rows, _, _ = driver.execute_query(_BATCHES, process=process, version=version,
                                      database_=database, routing_="r")
    series: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    units: dict[str, dict[str, str]] = {}
    for query, is_lab in ((_SERIES, False), (_LAB, True)):
        records, _, _ = driver.execute_query(query, process=process, version=version,
                                             database_=database, routing_="r")
        for r in records:
            if is_lab:
                samples = np.array(sorted(r["samples"]), dtype=float).reshape(-1, 2)
                t, v = samples[:, 0], samples[:, 1]
            else:
                t, v = np.asarray(r["t"], dtype=float), np.asarray(r["v"], dtype=float)
            series.setdefault(r["batch_id"], {})[r["tag"]] = (t, v)
            units.setdefault(r["batch_id"], {})[r["tag"]] = r["unit"] or "1"
    batches, good, complete = [], set(), set()
    for row in rows:
        batch_id = row["batch_id"]
        duration = None
        if row["end"] is not None:
            duration = (row["end"].to_native() - row["start"].to_native()).total_seconds() / 3600
        phases = sorted((PhaseSpan(p["name"], p["start_h"], p["end_h"]) for p in row["phases"]),
                        key=lambda p: p.start_h)
        batches.append(BatchTrajectories(batch_id=batch_id, series=series.get(batch_id, {}),
                                         phases=tuple(phases), duration_h=duration,
                                         units=units.get(batch_id, {})))
        if row["status"] == "complete":
            complete.add(batch_id)
            if row["deviations"] == 0 and _within_spec(row["quality"]):
                good.add(batch_id)
    return batches, good, complete


def _processes(driver: Driver, database: str | None) -> list[tuple[str, str]]:
    rows, _, _ = driver.execute_query(
        "MATCH (b:Batch) RETURN DISTINCT b.process AS code, b.process_version AS version "
        "ORDER BY code, version", database_=database, routing_="r")
    return [(r["code"], r["version"]) for r in rows]


def analyse(driver: Driver, *, site_code: str, options: AnalysisOptions | None = None,
            database: str | None = None) -> AnalysisReport:
    """Analyse every process at the site and store the results."""
    options = options or AnalysisOptions()
    started = time.perf_counter()
    report = AnalysisReport()
    for process, version in _processes(driver, database):
        batches, good, complete = load_trajectories(driver, process, version, database)
        if not batches:
            continue
        result = analyse_site(batches, good, options=options, fallback_batch_ids=complete)
        report.processes[f"{process}@{version}"] = result
        with driver.session(database=database) as session:
            report.changed_batches += session.execute_write(
                _store, site_code, process, version, result)
    report.seconds = time.perf_counter() - started
    return report


def envelope_key(process: str, version: str, tag: str) -> str:
    return f"{process}/{version}/{tag}"


def _batch_payload(result: SiteAnalysis, batch_id: str, process: str,
                   version: str) -> dict[str, Any]:
    analysis = result.batches[batch_id]
    envelope_keys = {s.envelope_id: envelope_key(process, version, s.tag)
                     for s in result.envelopes.values()}
    phases = [{"name": s.name, "start_h": s.start_h, "end_h": s.end_h}
              for s in analysis.phases.spans] if analysis.phases.source != "recipe" else []
    evolution = analysis.evolution
    payload = {
        "batch_id": batch_id,
        "phase_source": analysis.phases.source,
        "phases": phases,
        "features": [{"tag": f.tag, "phase": f.phase, "stat": f.statistic,
                      "value": float(f.value), "unit": f.unit} for f in analysis.features],
        "events": [{"tag": e.tag, "phase": e.phase, "direction": e.direction,
                    "magnitude": float(e.magnitude), "peak_excess": float(e.peak_excess),
                    "peak_z": float(e.peak_z), "start_h": float(e.start_h),
                    "duration_h": float(e.duration_h), "peak_h": float(e.peak_h),
                    "n_samples": int(e.n_samples), "unit": e.unit,
                    "envelope": envelope_keys.get(e.envelope_id,
                                                  envelope_key(process, version, e.tag))}
                   for e in analysis.events],
        "evolution": [] if evolution is None else [{
            "t2": float(evolution.t2), "spe": float(evolution.spe),
            "t2_limit": float(evolution.t2_limit_99), "spe_limit": float(evolution.spe_limit_99),
            "t2_limit_95": float(evolution.t2_limit_95),
            "spe_limit_95": float(evolution.spe_limit_95),
            "coverage": float(evolution.coverage), "in_reference": evolution.in_reference,
            "top_contributions": [f"{tag}: {value:.3g}"
                                  for tag, value in evolution.spe_contributions[:5]]}],
    }
    payload["hash"] = hashlib.sha256(json.dumps(
        {k: payload[k] for k in ("phases", "features", "events", "evolution")},
        sort_keys=True, default=lambda x: round(x, 9) if isinstance(x, float) else x,
    ).encode()).hexdigest()
    return payload


def _store(tx: ManagedTransaction, site_code: str, process: str, version: str,
           result: SiteAnalysis) -> list[str]:
    tx.run("MATCH (s:Site {code: $code}) SET s.rev = s.rev", code=site_code)  # lock: see ingest
    payloads = [_batch_payload(result, batch_id, process, version)
                for batch_id in sorted(result.batches)]
    hashes = {r["id"]: r["hash"] for r in tx.run(
        "MATCH (b:Batch) WHERE b.batch_id IN $ids RETURN b.batch_id AS id, "
        "b.analysis_hash AS hash", ids=[p["batch_id"] for p in payloads])}
    changed = [p for p in payloads if hashes.get(p["batch_id"]) != p["hash"]]
    tx.run(
        "MATCH (e:Envelope {process: $process, version: $version}) DETACH DELETE e",
        process=process, version=version)
    tx.run(
        "UNWIND $envelopes AS env "
        "CREATE (e:Envelope {key: env.key, process: $process, version: $version, "
        "  tag: env.tag, unit: env.unit, k: env.k, n_batches: env.n_batches, "
        "  envelope_id: env.envelope_id, phase_names: env.phase_names, grid: env.grid, "
        "  mean: env.mean, lower: env.lower, upper: env.upper}) "
        "WITH e, env MATCH (b:Batch) WHERE b.batch_id IN env.reference "
        "CREATE (e)-[:BUILT_FROM]->(b)",
        process=process, version=version,
        envelopes=[{"key": envelope_key(process, version, s.tag), "tag": s.tag,
                    "unit": s.unit, "k": float(s.k), "n_batches": len(s.reference_batch_ids),
                    "envelope_id": s.envelope_id, "phase_names": list(s.phase_names),
                    "grid": np.asarray(s.grid, dtype=float).ravel().tolist(),
                    "mean": np.asarray(s.mean, dtype=float).ravel().tolist(),
                    "lower": np.asarray(s.lower, dtype=float).ravel().tolist(),
                    "upper": np.asarray(s.upper, dtype=float).ravel().tolist(),
                    "reference": list(s.reference_batch_ids)}
                   for s in result.envelopes.values()])
    if not changed:
        return []
    tx.run(
        "UNWIND $batches AS p MATCH (b:Batch {batch_id: p.batch_id}) "
        "OPTIONAL MATCH (b)-[:HAS_FEATURE|HAS_DEVIATION_EVENT|HAS_EVOLUTION|"
        "HAS_ANALYSIS_PHASE]->(old) DETACH DELETE old",
        batches=changed)
    tx.run(
        "UNWIND $batches AS p MATCH (b:Batch {batch_id: p.batch_id}) "
        "CALL (b, p) { UNWIND p.features AS f "
        "  CREATE (b)-[:HAS_FEATURE]->(:Feature {tag: f.tag, phase: f.phase, stat: f.stat, "
        "    value: f.value, unit: f.unit}) } "
        "CALL (b, p) { UNWIND p.events AS e "
        "  CREATE (b)-[:HAS_DEVIATION_EVENT]->(:DeviationEvent {tag: e.tag, phase: e.phase, "
        "    direction: e.direction, magnitude: e.magnitude, peak_excess: e.peak_excess, "
        "    peak_z: e.peak_z, start_h: e.start_h, duration_h: e.duration_h, "
        "    peak_h: e.peak_h, n_samples: e.n_samples, unit: e.unit, envelope: e.envelope}) } "
        "CALL (b, p) { UNWIND p.evolution AS m "
        "  CREATE (b)-[:HAS_EVOLUTION]->(:BatchEvolution {t2: m.t2, spe: m.spe, "
        "    t2_limit: m.t2_limit, spe_limit: m.spe_limit, t2_limit_95: m.t2_limit_95, "
        "    spe_limit_95: m.spe_limit_95, coverage: m.coverage, "
        "    in_reference: m.in_reference, top_contributions: m.top_contributions}) } "
        "CALL (b, p) { UNWIND p.phases AS ph "
        "  CREATE (b)-[:HAS_ANALYSIS_PHASE]->(:Phase {name: ph.name, start_h: ph.start_h, "
        "    end_h: ph.end_h, source: 'inferred'}) } "
        "SET b.analysis_hash = p.hash, b.phase_source = p.phase_source",
        batches=changed)
    for payload in changed:
        tx.run("MATCH (s:Site {code: $code}) SET s.rev = s.rev + 1 WITH s "
               "MATCH (b:Batch {batch_id: $id}) SET b.rev = s.rev",
               code=site_code, id=payload["batch_id"])
    return [p["batch_id"] for p in changed]
