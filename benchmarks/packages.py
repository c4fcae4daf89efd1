"""Benchmark: building a technology-transfer knowledge package for a process with 100 batches.

A fresh embedded Oxigraph store is filled with two sites of aligned batch graphs from the
federation benchmark's generator (``benchmarks/federation.py``: phases, 15 parameters x 3
phases x {mean, min, max} features, deviation records with CAPA, quality results, envelopes
with reference batches, sponsor-neutral meta graphs with tags mapped to the shared
parameters and equipment). The SP-ACME process at the first site has the requested number of
batches. The package from the first site to the second is built as a tech-transfer user with
SP-ACME in scope (``federation.packages.service.build_package``: scoped queries, ranges and
classification, equipment comparison, calibration and what-if runs of the process twin,
risks, RDF, SHACL validation, HTML report with plots, manifest and archive), without storing
it, :data:`REPEAT` times; the median is reported with its stages.

Baselines in the same run: the same build for a 10-batch process (how the build scales), and
a naive read of the 100 batches — every batch graph fetched whole from the store
(``get_graph``), which is what a builder that did not push its selection into SPARQL would
pay before computing anything.

Target (issue 8): under 10 s for 100 batches on this machine.
Run: ``python -m benchmarks.packages``; ``main()`` returns the printed figures as a dict.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.federation import PROCESS_OF, batch_sponsor, bulk_load, site_code
from federation.packages.service import build_package
from federation.registry.service import Principal
from federation.store import open_store

SPONSOR = "SP-ACME"
REPEAT = 3
TARGET_S = 10.0


def _per_site_for(process_batches: int) -> int:
    """Batches per site so that the sponsor's process at a site has ``process_batches``."""
    n = 0
    count = 0
    while count < process_batches:
        count += batch_sponsor(n) == SPONSOR
        n += 1
    return n


def _fill(folder: Path, process_batches: int) -> tuple[Path, int]:
    per_site = _per_site_for(process_batches)
    path = folder / f"store-{process_batches}"
    loaded = bulk_load(path, sites=2, batches=per_site, first=per_site)
    return path, loaded.triples


def _build_times(path: Path) -> tuple[list[float], dict[str, float], dict[str, Any]]:
    user = Principal("tt-bench", frozenset({"tech_transfer"}), frozenset({SPONSOR}))
    process = PROCESS_OF[SPONSOR][0]
    totals, stages, facts = [], {}, {}
    with open_store(path) as store:
        for _ in range(REPEAT):
            started = time.perf_counter()
            built = build_package(store, user, process=process, from_site=site_code(0),
                                  to_site=site_code(1), software_version="bench", keep=False)
            totals.append(time.perf_counter() - started)
            stages = built.seconds
        facts = {"batches_at_S": len(built.data.site_batches(site_code(0))),
                 "ranges": len(built.sections.parameters), "risks": len(built.sections.risks),
                 "archive_bytes": len(built.archive),
                 "whatif": built.sections.whatif is not None}
    return totals, stages, facts


def _naive_read(path: Path) -> float:
    with open_store(path) as store:
        graphs = [iri for iri, meta in store.graph_metadata().items()
                  if meta.kind == "batch" and meta.sponsor == SPONSOR
                  and meta.site == site_code(0)]
        started = time.perf_counter()
        size = sum(len(store.get_graph(iri)) for iri in graphs)
        elapsed = time.perf_counter() - started
    print(f"  naive read: {len(graphs)} batch graphs fetched whole, {size / 2**20:.1f} MiB "
          f"N-Triples in {elapsed:.2f} s")
    return elapsed


def main() -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="twinfed-bench-packages-") as tmp:
        folder = Path(tmp)
        for batches in (10, 100):
            path, triples = _fill(folder, batches)
            totals, stages, facts = _build_times(path)
            median = statistics.median(totals)
            results[f"build_{batches}_s"] = median
            results[f"stages_{batches}"] = stages
            results[f"facts_{batches}"] = facts
            print(f"package build, process with {facts['batches_at_S']} batches at S "
                  f"(store {triples:,} triples): median {median:.2f} s of {REPEAT} "
                  f"(min {min(totals):.2f} s); stages " + ", ".join(
                      f"{k} {v:.2f}" for k, v in stages.items() if k != "total")
                  + f"; {facts['ranges']} ranges, {facts['risks']} risks, "
                  f"{facts['archive_bytes'] / 1024:.0f} KiB archive")
            if batches == 100:
                results["naive_read_100_s"] = _naive_read(path)
    ratio = results["build_100_s"] / results["build_10_s"]
    results["ratio_100_vs_10"] = ratio
    results["target_met"] = results["build_100_s"] < TARGET_S
    naive = results["naive_read_100_s"]
    print(f"100 vs 10 batches: x{ratio:.2f}; naive whole-graph read of the 100 batches alone: "
          f"{naive:.2f} s ({naive / results['build_100_s']:.2f} x the whole build); "
          f"target < {TARGET_S:.0f} s: "
          f"{'met' if results['target_met'] else 'NOT met'}")
    return results


if __name__ == "__main__":
    main()
