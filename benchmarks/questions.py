"""Benchmark: latency of every named question and of the site comparison, scoped as the API
runs them, against two baselines measured in the same run.

Data: the aligned batch graphs of ``benchmarks/federation.py`` (same generator and seeds:
per batch 15 parameters x 3 phases x {mean, min, max} features, ~15 deviation events, a
deviation record with CAPA and failure mode, titre and viability with limits; per site
neutral and per-sponsor meta graphs with envelopes), ``--sites`` x ``--batches`` bulk-loaded
into an on-disk Oxigraph store in the layout ``replace_graphs`` writes.

1. **Scoped vs unscoped** at the default size (3 sites x 30 batches, ~150k triples):
   each question of the catalogue with its default parameters (``site_differences`` and the
   comparison for the generator's SP-ACME process), answered through
   ``federation.questions.service.ask`` exactly as ``GET /questions/{name}`` does, for an
   SP-ACME quality user (the sponsor's union view + sponsor-neutral graphs) and for an
   admin (every sponsor: the baseline). p50/p95 over up to :data:`REPEAT` runs after a
   warm-up, fewer once :data:`BUDGET_S` per question is spent.
2. **rdflib** on a subset (:data:`RDFLIB_SITES` sites x :data:`RDFLIB_BATCHES` batches):
   the same bound queries on an rdflib ``Dataset(default_union=True)`` holding SP-ACME's
   visible graphs vs the scoped Oxigraph store with the same graphs; medians, ratio, and
   whether the row counts agree.

Run: ``python -m benchmarks.questions [--sites N] [--batches N]``; about 1-2 minutes on 2
shared cores at the defaults. ``main()`` returns the printed numbers as a dict.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.federation import (
    PROCESS_OF,
    SCOPED_SPONSOR,
    SPONSORS,
    analyst,
    bulk_load,
    generate,
    meta_graphs,
    p50_p95,
    timings,
)
from federation.comparison.service import compare
from federation.questions.catalogue import questions
from federation.questions.service import ask
from federation.registry.service import Principal
from federation.scope import caller_scope
from federation.store import OxigraphStore

SITES = 3
BATCHES = 30
REPEAT = 5
BUDGET_S = 3.0
RDFLIB_SITES = 2
RDFLIB_BATCHES = 15
RDFLIB_REPEAT = 3
PROCESS = PROCESS_OF[SCOPED_SPONSOR][0]


def _parameters(name: str) -> dict[str, str]:
    """Default parameters, except the process of the questions that compare sites."""
    declared = {p.name for p in questions()[name].parameters}
    return {"process": PROCESS} if name == "site_differences" and "process" in declared else {}


def _admin() -> Principal:
    return Principal(name="bench-admin", roles=frozenset({"admin"}), sponsors=None)


def _ms(value: float) -> str:
    return f"{value:,.1f}"


def section_latency(store: OxigraphStore) -> dict[str, Any]:
    scoped = caller_scope(store, analyst(SCOPED_SPONSOR))
    unscoped = caller_scope(store, _admin())
    out: dict[str, Any] = {}
    print(f"{'question':32} {'scoped p50/p95 ms':>20} {'rows':>6} "
          f"{'unscoped p50/p95 ms':>21} {'rows':>6}  scoped/unscoped")
    jobs: dict[str, Any] = {
        name: (lambda scope, name=name: len(ask(store, scope, name, _parameters(name),
                                                 timeout_s=120).rows))
        for name in questions()}
    jobs["compare (GET /compare)"] = lambda scope: len(compare(store, scope, PROCESS,
                                                               timeout_s=120)["parameters"])
    for name, job in jobs.items():
        figures: dict[str, Any] = {}
        for label, scope in (("scoped", scoped), ("unscoped", unscoped)):
            try:
                rows = job(scope)
                times = timings(lambda job=job, scope=scope: job(scope), REPEAT, BUDGET_S,
                                warm_up=False)
            except Exception as exc:  # a question another team owns may need other data
                figures[label] = {"error": str(exc)[:200]}
                continue
            p50, p95 = p50_p95(times)
            figures[label] = {"p50_ms": p50, "p95_ms": p95, "runs": len(times), "rows": rows}
        out[name] = figures
        s, u = figures["scoped"], figures["unscoped"]
        if "error" in s or "error" in u:
            print(f"{name:32} error: {(s.get('error') or u.get('error'))[:80]}")
            continue
        print(f"{name:32} {_ms(s['p50_ms']):>9} /{_ms(s['p95_ms']):>9} {s['rows']:>6} "
              f"{_ms(u['p50_ms']):>10} /{_ms(u['p95_ms']):>9} {u['rows']:>6}  "
              f"{s['p50_ms'] / u['p50_ms']:5.2f}x")
    return out


def section_rdflib(folder: Path) -> dict[str, Any]:
    from rdflib import Dataset

    from benchmarks.federation import replace_load

    print(f"\n== 2. rdflib baseline: {RDFLIB_SITES} sites x {RDFLIB_BATCHES} batches, "
          f"{SCOPED_SPONSOR}'s visible graphs ==")
    store = OxigraphStore(folder / "subset")
    try:
        replace_load(store, RDFLIB_SITES, RDFLIB_BATCHES, range(RDFLIB_BATCHES), with_meta=True)
        scope = caller_scope(store, analyst(SCOPED_SPONSOR))
        visible = {None, SCOPED_SPONSOR}
        data = [item[0] for site in range(RDFLIB_SITES)
                for item in meta_graphs(site, RDFLIB_BATCHES).values()
                if item[1].sponsor in visible]
        data += [graph for _, graph, facts in generate(RDFLIB_SITES, range(RDFLIB_BATCHES))
                 if facts.sponsor in visible]
        dataset = Dataset(default_union=True)
        dataset.parse(data=b"".join(data), format="nquads")
        out: dict[str, Any] = {}
        for name in questions():
            sparql = questions()[name].bind(_parameters(name))
            try:
                ox_rows = len(store.query(sparql, graphs=scope.graphs, sponsors=scope.sponsors,
                                          timeout_s=120).rows)
                ox_ms = statistics.median(timings(
                    lambda sparql=sparql: store.query(sparql, graphs=scope.graphs,
                                                      sponsors=scope.sponsors, timeout_s=120),
                    REPEAT, BUDGET_S / 2))
                started = time.perf_counter()
                rdf_rows = len(list(dataset.query(sparql)))
                first = (time.perf_counter() - started) * 1000
                more = timings(lambda sparql=sparql: list(dataset.query(sparql)),
                               RDFLIB_REPEAT - 1, BUDGET_S / 2, warm_up=False) \
                    if first < BUDGET_S * 1000 / 2 else []
                rdf_ms = statistics.median([first, *more])
            except Exception as exc:
                out[name] = {"error": str(exc)[:200]}
                print(f"  {name:32} error: {str(exc)[:80]}")
                continue
            out[name] = {"oxigraph_median_ms": ox_ms, "rdflib_median_ms": rdf_ms,
                         "ratio": rdf_ms / ox_ms, "rows": ox_rows,
                         "same_row_count": ox_rows == rdf_rows}
            print(f"  {name:32} Oxigraph {_ms(ox_ms):>8} ms  rdflib {_ms(rdf_ms):>9} ms  "
                  f"ratio {rdf_ms / ox_ms:6.1f}x  ({ox_rows} rows"
                  f"{'' if ox_rows == rdf_rows else f', rdflib {rdf_rows}'})")
        return out
    finally:
        store.close()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=SITES)
    parser.add_argument("--batches", type=int, default=BATCHES, help="batches per site")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {"sites": args.sites, "batches_per_site": args.batches,
                              "sponsors": list(SPONSORS)}
    with tempfile.TemporaryDirectory(prefix="twinfed-bench-questions-") as tmp:
        folder = Path(tmp)
        print(f"== 1. Named questions, scoped ({SCOPED_SPONSOR} quality user) vs unscoped "
              f"(admin): {args.sites} sites x {args.batches} batches ==")
        loaded = bulk_load(folder / "store", args.sites, args.batches, args.batches)
        print(f"loaded {loaded.graphs:,} graphs, {loaded.triples:,} triples in "
              f"{loaded.seconds:.1f} s")
        result["triples"] = loaded.triples
        store = OxigraphStore(folder / "store")
        try:
            result["latency"] = section_latency(store)
        finally:
            store.close()
        result["rdflib"] = section_rdflib(folder)
    return result


if __name__ == "__main__":
    main()
