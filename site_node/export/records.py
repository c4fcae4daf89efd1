"""Read what a site exports from Neo4j, as plain records (dicts) per batch and per site."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from neo4j import Driver

from site_node.export.models import read_model_records

_BATCHES = """
MATCH (b:Batch) WHERE b.rev > $since
OPTIONAL MATCH (b)-[:HAS_UNIT_OPERATION]->(u:UnitOperation)
OPTIONAL MATCH (u)-[:USES_EQUIPMENT]->(q:Equipment)
WITH b, u, collect(q.equipment_id) AS equipment
OPTIONAL MATCH (u)-[:HAS_PHASE]->(ph:Phase)
WITH b, u, equipment, collect(ph {.*}) AS phases
WITH b, collect(CASE WHEN u IS NULL THEN NULL ELSE
  u {.kind, .implicit, equipment: equipment, phases: phases} END) AS unit_operations
CALL (b) {
  OPTIONAL MATCH (b)-[:HAS_DEVIATION]->(d:Deviation)
  OPTIONAL MATCH (d)-[:HAS_CAPA]->(c:CAPA)
  WITH d, collect(c {.*}) AS capa
  RETURN collect(CASE WHEN d IS NULL THEN NULL ELSE d {.*, capa: capa} END) AS deviations
}
CALL (b) {
  OPTIONAL MATCH (b)-[:HAS_QUALITY_RESULT]->(q:QualityResult)
  RETURN collect(q {.*}) AS quality
}
CALL (b) {
  OPTIONAL MATCH (b)-[:HAS_FEATURE]->(f:Feature)
  RETURN collect(f {.*}) AS features
}
CALL (b) {
  OPTIONAL MATCH (b)-[:HAS_DEVIATION_EVENT]->(e:DeviationEvent)
  RETURN collect(e {.*}) AS events
}
CALL (b) {
  OPTIONAL MATCH (b)-[:HAS_EVOLUTION]->(m:BatchEvolution)
  RETURN collect(m {.*}) AS evolution
}
CALL (b) {
  OPTIONAL MATCH (b)-[:HAS_ANALYSIS_PHASE]->(ap:Phase)
  RETURN collect(ap {.*}) AS analysis_phases
}
CALL (b) {
  OPTIONAL MATCH (b)-[:HAS_EQUIPMENT_INDICATOR]->(ei:EquipmentIndicator)
  RETURN collect(ei {.*}) AS equipment_indicators
}
CALL (b) {
  OPTIONAL MATCH (b)-[:HAS_EQUIPMENT_DRIFT]->(ed:EquipmentDriftEvent)
  RETURN collect(ed {.*}) AS equipment_drifts
}
CALL (b) {
  OPTIONAL MATCH (b)-[:HAS_RECOMMENDATION]->(rc:Recommendation)
  RETURN collect(rc {.*}) AS recommendations
}
RETURN b {.*} AS batch, unit_operations, deviations, quality, features, events, evolution,
       analysis_phases, equipment_indicators, equipment_drifts, recommendations
ORDER BY b.rev
"""

_SITE = """
MATCH (s:Site)
OPTIONAL MATCH (sp:Sponsor)-[:OWNS_PRODUCT]->(pr:Product)-[:HAS_PROCESS]->(p:Process)
WITH s, collect(DISTINCT {sponsor: sp.code, product: pr.code, process: p.code,
                          version: p.version, name: p.name}) AS processes
OPTIONAL MATCH (q:Equipment)
WITH s, processes, collect(q {.*}) AS equipment
OPTIONAL MATCH (t:Tag)
WITH s, processes, equipment, collect(t {.*}) AS tags
OPTIONAL MATCH (env:Envelope)
OPTIONAL MATCH (env)-[:BUILT_FROM]->(rb:Batch)
WITH s, processes, equipment, tags, env, collect(rb.batch_id) AS built_from
RETURN s {.*} AS site, processes, equipment, tags,
       collect(CASE WHEN env IS NULL THEN NULL ELSE env {.*, built_from: built_from} END)
         AS envelopes
"""


@dataclass(frozen=True)
class SiteRecords:
    site: dict[str, Any]
    processes: list[dict[str, Any]]
    equipment: list[dict[str, Any]]
    tags: list[dict[str, Any]]
    envelopes: list[dict[str, Any]]
    batches: list[dict[str, Any]]
    #: Batches deleted after ``since_rev``: ``{"batch_id", "rev"}``.
    deleted: list[dict[str, Any]] = field(default_factory=list)
    #: Soft-sensor model cards with drift events, and exported estimates per batch id
    #: (:mod:`site_node.export.models`).
    models: list[dict[str, Any]] = field(default_factory=list)
    estimates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def rev_range(self) -> tuple[int, int] | None:
        revs = [b["batch"]["rev"] for b in self.batches] + [d["rev"] for d in self.deleted]
        return (min(revs), max(revs)) if revs else None


def read_site_records(driver: Driver, *, since_rev: int = 0,
                      database: str | None = None) -> SiteRecords:
    """Everything the export needs for batches changed after ``since_rev``."""
    site_rows, _, _ = driver.execute_query(_SITE, database_=database, routing_="r")
    if not site_rows:
        return SiteRecords({}, [], [], [], [], [])
    batch_rows, _, _ = driver.execute_query(_BATCHES, since=since_rev, database_=database,
                                            routing_="r")
    deleted, _, _ = driver.execute_query(
        "MATCH (t:Tombstone) WHERE t.rev > $since RETURN t.batch_id AS batch_id, t.rev AS rev "
        "ORDER BY t.rev", since=since_rev, database_=database, routing_="r")
    row = site_rows[0]
    models, estimates = read_model_records(
        driver, [r["batch"]["batch_id"] for r in batch_rows], database)
    return SiteRecords(
        site=dict(row["site"]),
        processes=[p for p in row["processes"] if p["process"] is not None],
        equipment=list(row["equipment"]),
        tags=list(row["tags"]),
        envelopes=list(row["envelopes"]),
        batches=[dict(r) for r in batch_rows],
        deleted=[dict(r) for r in deleted],
        models=models,
        estimates=estimates,
    )
