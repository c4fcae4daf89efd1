"""Benchmark: the federation store's atomic graph replacement and scoped query latency.

Generates batch graphs of realistic shape (batch context, phases, per-phase features,
deviation events, quality results: ~250 triples each), then for each backend (embedded
pyoxigraph; ``oxigraph serve`` over HTTP):

* pushes them in sync-sized sets with ``replace_graphs`` (one atomic update per push, which
  also maintains the per-sponsor union views) and prints triples/s, against pyoxigraph's
  own ``Store.load`` of the same N-Quads into a directory as the baseline (fast and
  transactional, but add-only: it cannot drop the old graphs in the same step);
* runs cross-site questions scoped to every sponsor (the central-QA view), to one sponsor,
  and to 100 individually listed graphs, and prints p50/p95 latency.

Run: ``python -m benchmarks.store [--batches 2000] [--push 50] [--repeat 20] [--no-remote]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyoxigraph as ox

from federation.store import GraphMetadata, OxigraphStore, RemoteStore, Store

TF = "https://w3id.org/twinfed/ontology#"
SITES = 10
PHASES = ("lag", "exponential", "stationary", "feed", "harvest")
TAGS = ("DO", "pH", "TEMP", "OUR", "CER", "VCD", "GLC", "LAC")

QUESTIONS = {
    "low titre + OUR deviation": f"""
        PREFIX tf: <{TF}>
        SELECT DISTINCT ?batch ?titre WHERE {{
          ?batch a tf:Batch ; tf:finalTitre ?titre .
          ?event tf:ofBatch ?batch ; tf:tag "OUR" ; tf:direction "high" .
          FILTER(?titre < 3.0)
        }} ORDER BY ?titre LIMIT 100""",
    "deviations per site": f"""
        PREFIX tf: <{TF}>
        SELECT ?site (COUNT(DISTINCT ?event) AS ?n) WHERE {{
          ?event a tf:DeviationEvent ; tf:ofBatch ?batch .
          ?batch tf:site ?site .
        }} GROUP BY ?site ORDER BY ?site""",
    "mean titre per site": f"""
        PREFIX tf: <{TF}>
        SELECT ?site (AVG(?titre) AS ?mean) (COUNT(?batch) AS ?n) WHERE {{
          ?batch a tf:Batch ; tf:site ?site ; tf:finalTitre ?titre .
        }} GROUP BY ?site""",
}


def graph_iri(site: int, batch: int) -> str:
    return f"https://fed.example/site-{site}/batch/{batch:05d}"


def batch_graph(site: int, batch: int, rng: random.Random) -> bytes:
    """N-Triples of one batch: ~250 triples."""
    b = f"<{graph_iri(site, batch)}#batch>"
    lines = [f"{b} <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{TF}Batch> .",
             f'{b} <{TF}site> "site-{site}" .',
             f'{b} <{TF}process> "P-{batch % 3}" .',
             f'{b} <{TF}finalTitre> "{rng.uniform(2.0, 6.0):.3f}"'
             f"^^<http://www.w3.org/2001/XMLSchema#decimal> ."]
    for p, phase in enumerate(PHASES):
        ph = f"<{graph_iri(site, batch)}#phase-{p}>"
        lines += [f"{ph} <{TF}ofBatch> {b} .", f'{ph} <{TF}name> "{phase}" .']
        for tag in TAGS:
            f = f"<{graph_iri(site, batch)}#f-{p}-{tag}>"
            lines += [f"{f} <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{TF}Feature> .",
                      f"{f} <{TF}inPhase> {ph} .", f'{f} <{TF}tag> "{tag}" .',
                      f'{f} <{TF}stat> "mean" .',
                      f'{f} <{TF}value> "{rng.gauss(50, 10):.4f}"'
                      f"^^<http://www.w3.org/2001/XMLSchema#double> ."]
    for e in range(rng.randint(0, 3)):
        ev = f"<{graph_iri(site, batch)}#event-{e}>"
        lines += [f"{ev} <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{TF}DeviationEvent> .",
                  f"{ev} <{TF}ofBatch> {b} .", f'{ev} <{TF}tag> "{rng.choice(TAGS)}" .',
                  f'{ev} <{TF}direction> "{rng.choice(("high", "low"))}" .',
                  f'{ev} <{TF}magnitude> "{rng.uniform(1, 4):.2f}"'
                  f"^^<http://www.w3.org/2001/XMLSchema#double> ."]
    return ("\n".join(lines) + "\n").encode()


def make_batches(n: int) -> dict[str, tuple[bytes, GraphMetadata]]:
    rng = random.Random(7)
    out = {}
    for i in range(n):
        site = i % SITES
        out[graph_iri(site, i)] = (batch_graph(site, i, rng),
                                   GraphMetadata(site=f"site-{site}", sponsor=f"S{site % 3}",
                                                 kind="batch"))
    return out


def push_all(store: Store, batches: dict[str, tuple[bytes, GraphMetadata]], push: int) -> float:
    """Seconds to push every batch in atomic sets of ``push`` graphs."""
    items = list(batches.items())
    started = time.perf_counter()
    for i in range(0, len(items), push):
        chunk = items[i:i + push]
        store.replace_graphs({g: data for g, (data, _) in chunk},
                             {g: meta for g, (_, meta) in chunk})
    return time.perf_counter() - started


def baseline_load(batches: dict[str, tuple[bytes, GraphMetadata]], folder: Path) -> float:
    """Seconds for pyoxigraph's ``Store.load`` of the same data as N-Quads, on disk."""
    nquads = b"".join(
        data.replace(b" .\n", f" <{g}> .\n".encode()) for g, (data, _) in batches.items())
    raw = ox.Store(str(folder))
    started = time.perf_counter()
    raw.load(nquads, format=ox.RdfFormat.N_QUADS)
    return time.perf_counter() - started


def latencies(run: Callable[[], object], repeat: int) -> tuple[float, float]:
    run()  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))]


def bench(name: str, store: Store, batches: dict[str, tuple[bytes, GraphMetadata]],
          args: argparse.Namespace, n_triples: int, baseline_s: float) -> None:
    seconds = push_all(store, batches, args.push)
    rate = n_triples / seconds
    print(f"\n[{name}] atomic replace: {len(batches)} graphs, {n_triples:,} triples in "
          f"{seconds:.2f} s = {rate:,.0f} triples/s, {len(batches) / seconds:,.0f} graphs/s "
          f"(pushes of {args.push}); ratio to raw Store.load: "
          f"{rate / (n_triples / baseline_s):.2f}")
    sponsors = sorted({meta.sponsor for _, meta in batches.values() if meta.sponsor})
    scopes = {
        f"{len(sponsors)} sponsors (all)": {"sponsors": set(sponsors)},
        "1 sponsor": {"sponsors": {sponsors[0]}},
        "100 graphs listed": {"graphs": store.graphs_where(site="site-0")[:100]},
    }
    for question, sparql in QUESTIONS.items():
        for label, scope in scopes.items():
            p50, p95 = latencies(lambda s=scope, q=sparql: store.query(q, **s), args.repeat)
            print(f"[{name}] {question:<26} {label:<18} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--push", type=int, default=50, help="graphs per atomic push")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--no-remote", action="store_true")
    args = parser.parse_args(argv)
    batches = make_batches(args.batches)
    n_triples = sum(data.count(b"\n") for data, _ in batches.values())
    with tempfile.TemporaryDirectory() as tmp:
        baseline_s = baseline_load(batches, Path(tmp) / "baseline")
        print(f"{args.batches} batch graphs, {n_triples:,} triples; baseline pyoxigraph "
              f"Store.load (N-Quads, on disk): {n_triples / baseline_s:,.0f} triples/s")
        with OxigraphStore(Path(tmp) / "embedded") as embedded:
            bench("embedded", embedded, batches, args, n_triples, baseline_s)
        if not args.no_remote:
            sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
            from tests.oxigraph_server import running_oxigraph

            with (running_oxigraph(Path(tmp) / "served") as server,
                  RemoteStore.from_url(server.base_url) as remote):
                bench("remote", remote, batches, args, n_triples, baseline_s)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
