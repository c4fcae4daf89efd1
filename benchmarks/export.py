"""Benchmark: export + SHACL validation of 100 batches at one site.

The site graph is written directly (realistic shape: 30 tags x 3 phases x 8 statistics =
720 features per batch, 5 deviation events, 1 deviation record with CAPA, 2 quality
results, 3 phases) so the run measures the export, not the simulator. Prints triples/s of
building, and validation time with ``shapes.FAST_SETTINGS`` against pyshacl's defaults on
the same dataset in the same run.

Run: ``python -m benchmarks.export``.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyshacl
from neo4j import GraphDatabase

from shapes import load_shapes
from site_node.export.service import export_site
from site_node.graph.schema import install_schema
from site_node.neo4j_embedded import LAUNCHER_DIR, EmbeddedNeo4j

N_BATCHES, N_TAGS, PHASES = 100, 30, ("growth", "production", "decline")
STATS = ("n", "mean", "min", "max", "slope", "area", "t_min", "t_max")


def populate(driver) -> None:  # noqa: ANN001
    driver.execute_query(
        "CREATE (:Site {code: 'BENCH', rev: $n}) "
        "CREATE (sp:Sponsor {code: 'SP'})-[:OWNS_PRODUCT]->(pr:Product {code: 'PR'})"
        "-[:HAS_PROCESS]->(:Process {key: 'P@1', code: 'P', version: '1'}) "
        "WITH 1 AS one UNWIND range(0, $tags - 1) AS i "
        "CREATE (:Tag {name: 'TAG' + toString(i), unit: '%', kind: 'online'})",
        n=N_BATCHES, tags=N_TAGS)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    batches = []
    for index in range(N_BATCHES):
        batches.append({
            "id": f"B{index:04d}", "rev": index + 1,
            "start": start + timedelta(days=15 * index),
            "features": [{"tag": f"TAG{t}", "phase": p, "stat": s, "value": 10.0 + t + index}
                         for t in range(N_TAGS) for p in PHASES for s in STATS],
            "events": [{"tag": f"TAG{e}", "phase": "production", "magnitude": 1.5 + e}
                       for e in range(5)],
        })
    driver.execute_query(
        "UNWIND $batches AS x MATCH (p:Process {key: 'P@1'}) "
        "CREATE (b:Batch {batch_id: x.id, site: 'BENCH', process: 'P', process_version: '1', "
        "  sponsor: 'SP', product: 'PR', scale_l: 2000.0, start: x.start, status: 'complete', "
        "  rev: x.rev, content_hash: 'h' + x.id})-[:OF_PROCESS]->(p) "
        "CREATE (b)-[:HAS_UNIT_OPERATION]->(u:UnitOperation {kind: 'production_bioreactor'}) "
        "FOREACH (i IN range(0, 2) | CREATE (u)-[:HAS_PHASE]->(:Phase {name: "
        "  ['growth', 'production', 'decline'][i], start_h: 120.0 * i, end_h: 120.0 * (i + 1)}))"
        "FOREACH (f IN x.features | CREATE (b)-[:HAS_FEATURE]->(:Feature {tag: f.tag, "
        "  phase: f.phase, stat: f.stat, value: f.value, unit: '%'})) "
        "FOREACH (e IN x.events | CREATE (b)-[:HAS_DEVIATION_EVENT]->(:DeviationEvent {tag: "
        "  e.tag, phase: e.phase, direction: 'high', magnitude: e.magnitude, peak_excess: 2.0, "
        "  start_h: 150.0, duration_h: 6.0, envelope: 'P/1/' + e.tag})) "
        "CREATE (b)-[:HAS_DEVIATION]->(d:Deviation {deviation_id: 'DEV-' + x.id, "
        "  opened_at: x.start, category: 'equipment', description: 'DO low'}) "
        "CREATE (d)-[:HAS_CAPA]->(:CAPA {capa_id: 'CAPA-' + x.id, action: 'fix', "
        "  effective: true}) "
        "CREATE (b)-[:HAS_QUALITY_RESULT]->(:QualityResult {attribute: 'final_titre', "
        "  value: 4.2, unit: 'g/L', spec_low: 2.5}) "
        "CREATE (b)-[:HAS_QUALITY_RESULT]->(:QualityResult {attribute: 'viability', "
        "  value: 80.0, unit: '%'})",
        batches=batches)
    driver.execute_query(
        "MATCH (t:Tag) CREATE (:Envelope {key: 'P/1/' + t.name, process: 'P', version: '1', "
        "  tag: t.name, unit: '%', k: 3.0, n_batches: 10}) "
        "WITH 1 AS one MATCH (e:Envelope), (b:Batch) WHERE b.batch_id < 'B0010' "
        "CREATE (e)-[:BUILT_FROM]->(b)")


def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="twinfed-bench-") as tmp, EmbeddedNeo4j(
            ["bench"], data_dir=Path(tmp), launcher_dir=LAUNCHER_DIR,
            fast_start=False) as neo4j, GraphDatabase.driver(
            neo4j.uris["bench"], notifications_min_severity="OFF") as driver:
        install_schema(driver)
        populate(driver)
        export_site(driver, site_code="BENCH", api_base="http://x", software_version="b",
                    since_rev=N_BATCHES - 2)  # warm-up
        started = time.perf_counter()
        export = export_site(driver, site_code="BENCH", api_base="http://x",
                             software_version="bench")
        total = time.perf_counter() - started
    assert export.report.conforms and len(export.batch_ids) == N_BATCHES
    defaults_started = time.perf_counter()
    conforms, _, _ = pyshacl.validate(export.dataset, shacl_graph=load_shapes())
    defaults = time.perf_counter() - defaults_started
    figures = {
        "batches": N_BATCHES, "triples": export.triples,
        "read_and_build_s": export.build_seconds, "validate_fast_s": export.validate_seconds,
        "validate_pyshacl_defaults_s": defaults, "total_s": total,
        "build_triples_per_s": export.triples / export.build_seconds,
    }
    print(f"{N_BATCHES} batches, {export.triples:,} triples")
    print(f"  read + build     {export.build_seconds:6.2f} s  "
          f"({figures['build_triples_per_s']:,.0f} triples/s)")
    print(f"  SHACL, our settings      {export.validate_seconds:6.2f} s")
    print(f"  SHACL, pyshacl defaults  {defaults:6.2f} s  (conforms: {conforms}; ratio "
          f"{defaults / export.validate_seconds:.2f}x)")
    print(f"  export + validation total {total:6.2f} s (target < 30 s)")
    return figures


if __name__ == "__main__":
    main()
