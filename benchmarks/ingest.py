"""Benchmark: ingest of one realistic batch vs. a naive one-transaction-per-sample path.

The batch: 30 online tags sampled every minute for 14 days (604,800 points), daily lab
results, and 1,000 Raman spectra of 3,000 channels (3,000,000 values). Both paths run in
this process against the same embedded Neo4j. Prints points/s for each and their ratio.

Run: ``python -m benchmarks.ingest`` (or ``make bench``).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from neo4j import GraphDatabase

from site_node.graph.schema import install_schema
from site_node.ingest.reader import read_batch, read_manifest
from site_node.ingest.service import ingest_bundle
from site_node.ingest.source import open_source
from site_node.ingest.writer import write_batch
from site_node.neo4j_embedded import LAUNCHER_DIR, EmbeddedNeo4j

N_TAGS, DAYS, N_SPECTRA, N_CHANNELS = 30, 14, 1000, 3000
NAIVE_SLICE = 500  # the per-transaction cost is flat; 500 samples time it well


def write_realistic_bundle(folder: Path, batch_id: str = "BENCH-1") -> Path:
    rng = np.random.default_rng(1)
    start = pd.Timestamp("2026-01-05T00:00:00Z")
    minutes = DAYS * 24 * 60
    tags = [{"name": f"TAG{i:02d}.PV", "unit": "%", "kind": "online"} for i in range(N_TAGS)]
    tags.append({"name": "GLC", "unit": "g/L", "kind": "offline"})
    manifest = {
        "format_version": "1", "site": {"code": "BENCH"}, "sponsor": {"code": "SP"},
        "product": {"code": "PR"}, "process": {"code": "P", "version": "1"},
        "equipment": [{"equipment_id": "RM", "kind": "raman_analyser"}], "tags": tags,
        "batches": [{"batch_id": batch_id, "scale_l": 2000, "start": start.isoformat(),
                     "status": "complete", "raman_instrument": "RM"}],
    }
    (folder / batch_id).mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    process = pd.DataFrame(rng.normal(50, 5, (minutes, N_TAGS)).round(3),
                           columns=[t["name"] for t in tags[:N_TAGS]])
    process.insert(0, "timestamp", pd.date_range(start, periods=minutes, freq="min"))
    process.to_parquet(folder / batch_id / "process.parquet", index=False)
    lab = pd.DataFrame({"sampled_at": [(start + pd.Timedelta(days=d)).isoformat()
                                       for d in range(DAYS)],
                        "analyte": "GLC", "value": rng.uniform(1, 6, DAYS).round(2)})
    lab.to_csv(folder / batch_id / "lab.csv", index=False)
    spectra = pd.DataFrame(rng.normal(1000, 10, (N_SPECTRA, N_CHANNELS)).astype("float32"),
                           columns=[f"{w:.2f}" for w in np.linspace(200, 3200, N_CHANNELS)])
    spectra.insert(0, "timestamp", pd.date_range(start, periods=N_SPECTRA, freq="20min"))
    spectra.to_parquet(folder / batch_id / "raman.parquet", index=False)
    return folder


def naive_points_per_second(driver, series_t: np.ndarray, series_v: np.ndarray) -> float:
    """One transaction per sample: how a row-by-row historian import would do it."""
    driver.execute_query("CREATE (:NaiveBatch {id: 'naive'})")
    started = time.perf_counter()
    with driver.session() as session:
        for t, v in zip(series_t[:NAIVE_SLICE], series_v[:NAIVE_SLICE], strict=True):
            session.execute_write(lambda tx, t=t, v=v: tx.run(
                "MATCH (b:NaiveBatch {id: 'naive'}) "
                "CREATE (b)-[:HAS_SAMPLE]->(:Sample {tag: 'TAG00.PV', t: $t, v: $v})",
                t=float(t), v=float(v)).consume())
    return NAIVE_SLICE / (time.perf_counter() - started)


def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="twinfed-bench-") as tmp:
        root = Path(tmp)
        bundle = write_realistic_bundle(root / "bundle")
        with EmbeddedNeo4j(["bench"], data_dir=root / "neo4j", launcher_dir=LAUNCHER_DIR,
                           fast_start=False) as neo4j:  # full JIT for measurements
            uri = neo4j.uris["bench"]
            with GraphDatabase.driver(uri, notifications_min_severity="OFF") as driver:
                install_schema(driver)
                # Warm-up on a different batch id so the JVM and caches are warm.
                warm = write_realistic_bundle(root / "warm", batch_id="WARM-1")
                ingest_bundle(driver, warm, site_code=None, max_file_bytes=2**31)

                source = open_source(bundle, 2**31)
                manifest = read_manifest(source)
                t0 = time.perf_counter()
                batch = read_batch(source, manifest, manifest.batches[0])
                t1 = time.perf_counter()
                result = write_batch(driver, batch)
                t2 = time.perf_counter()
                assert result.outcome == "stored", result
                points = batch.n_points
                total = t2 - t0
                batched_rate = points / total
                first = batch.series[0]
                naive_rate = naive_points_per_second(driver, first.t_h, first.values)
    figures = {
        "points": points,
        "read_and_check_s": t1 - t0,
        "write_s": t2 - t1,
        "batch_total_s": total,
        "batched_points_per_s": batched_rate,
        "naive_points_per_s": naive_rate,
        "ratio_batched_vs_naive": batched_rate / naive_rate,
    }
    print(f"realistic batch: {N_TAGS} tags x {DAYS} d @ 1 min + {N_SPECTRA} spectra x "
          f"{N_CHANNELS} channels = {points:,} points")
    print(f"  read + check   {figures['read_and_check_s']:6.2f} s")
    print(f"  write (1 tx)   {figures['write_s']:6.2f} s")
    print(f"  total          {total:6.2f} s   -> {batched_rate:,.0f} points/s")
    print(f"naive, one transaction per sample ({NAIVE_SLICE} samples): "
          f"{naive_rate:,.0f} points/s")
    print(f"ratio batched / naive: {figures['ratio_batched_vs_naive']:,.0f}x")
    return figures


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
