"""Killing Neo4j (SIGKILL) in the middle of an ingest leaves each batch whole or absent."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from neo4j import GraphDatabase

from site_node.graph.schema import install_schema
from site_node.ingest.reader import read_batch, read_manifest
from site_node.ingest.source import open_source
from site_node.neo4j_embedded import EmbeddedNeo4j
from tests.bundles import make_bundle
from tests.conftest import launcher_dir

BATCHES = tuple(f"K-{i:03d}" for i in range(8))


def _expected(bundle: Path) -> dict[str, dict[str, int]]:
    source = open_source(bundle, 2**30)
    manifest = read_manifest(source)
    expected = {}
    for entry in manifest.batches:
        batch = read_batch(source, manifest, entry)
        expected[batch.batch_id] = {
            "series": len(batch.series), "points": sum(s.t_h.size for s in batch.series),
            "lab": len(batch.lab), "spectra": batch.spectra.t_h.size,
            "deviations": len(batch.deviations),
        }
    return expected


def _stored(uri: str) -> dict[str, dict[str, int]]:
    with GraphDatabase.driver(uri, notifications_min_severity="OFF") as driver:
        records, _, _ = driver.execute_query(
            "MATCH (b:Batch) "
            "OPTIONAL MATCH (b)-[:HAS_SERIES]->(ts) WITH b, count(ts) AS series, "
            "  coalesce(sum(ts.n), 0) AS points "
            "OPTIONAL MATCH (b)-[:HAS_LAB_RESULT]->(l) WITH b, series, points, count(l) AS lab "
            "OPTIONAL MATCH (b)-[:HAS_SPECTRA]->(ss) "
            "WITH b, series, points, lab, coalesce(sum(ss.n), 0) AS spectra "
            "OPTIONAL MATCH (b)-[:HAS_DEVIATION]->(d) "
            "RETURN b.batch_id AS id, series, points, lab, spectra, count(d) AS deviations")
        orphans, _, _ = driver.execute_query(
            "MATCH (n) WHERE (n:TimeSeries OR n:LabResult OR n:SpectrumSet OR n:Deviation) "
            "AND NOT (n)<--(:Batch) RETURN count(n) AS n")
    assert orphans[0]["n"] == 0, "nodes left behind without their batch"
    return {r["id"]: {k: r[k] for k in ("series", "points", "lab", "spectra", "deviations")}
            for r in records}


def test_sigkill_during_ingest_leaves_no_partial_batch(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "bundle", batch_ids=BATCHES, hours=48, step_min=1,
                         n_tags=8, n_spectra=80, n_channels=1200)
    expected = _expected(bundle)
    neo4j = EmbeddedNeo4j(["crash"], data_dir=tmp_path / "neo4j", launcher_dir=launcher_dir())
    uri = neo4j.start()["crash"]
    with GraphDatabase.driver(uri) as driver:
        install_schema(driver)
    ingest = subprocess.Popen(
        [sys.executable, "-c", "from twinfed.cli import main; main()", "site", "ingest",
         str(bundle), "--neo4j-uri", uri],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not _stored(uri):
            time.sleep(0.05)
        neo4j.kill()  # SIGKILL while later batches are still being written
    finally:
        ingest.kill()  # it would otherwise retry against the dead server for 30 s
        ingest.wait(timeout=60)
    neo4j.start()
    try:
        stored = _stored(uri)
    finally:
        neo4j.stop()
    assert 0 < len(stored) < len(BATCHES), f"kill did not land mid-ingest: {sorted(stored)}"
    for batch_id, counts in stored.items():
        assert counts == expected[batch_id], f"{batch_id} is partial: {counts}"
