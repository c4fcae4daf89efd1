"""Benchmark: what the trust layer costs, against baselines measured in the same run.

1. **Audit log appends** (hash chain, ``flock``, fsync) vs appending the same JSON lines to a
   plain file with fsync (the floor any durable log pays), and ``verify`` per entry.
2. **Trust middleware per request**: ``GET /health`` (exempt) vs ``GET /sites`` through the
   limits middleware, authentication, role check and audit of record, on the real app over
   real HTTP; p50 latencies.
3. **Fuzzing counts**: the seeded API fuzzer of ``tests/test_fuzz.py`` over every OpenAPI
   operation (requests fuzzed, faults injected, 5xx, leaks, items lost). The process-kill,
   dropped-connection, reordering and full-disk faults run in ``tests/test_faults.py``,
   which prints its own counts (faults injected, items lost, duplicated).
4. **Trace**: one ``GET /trace`` on a finding with a chain of 2 models x 20 training batches
   vs one scoped SPARQL query that lists the same batches (what a user would otherwise run,
   one of the three calls the trace replaces).

Run: ``python -m benchmarks.trust``; well under a minute. ``main()`` returns the figures.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from federation.api.app import create_app
from federation.audit import AuditLog
from federation.config import FederationSettings
from federation.store.base import GraphMetadata
from twinfed.serving import serve

ADMIN = "bench-admin-token"
TF = "https://w3id.org/twinfed/ontology#"
PROV = "http://www.w3.org/ns/prov#"
TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
SITE = "https://w3id.org/twinfed/site/SITE-A/"


def _appends(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        log = AuditLog(Path(tmp) / "audit.jsonl")
        started = time.perf_counter()
        for i in range(n):
            log.record("bench", "sync.push", "SITE-A", {"push_id": f"p{i}", "batches": i})
        chained = (time.perf_counter() - started) / n
        started = time.perf_counter()
        assert log.verify().intact
        verify = (time.perf_counter() - started) / n
        plain = Path(tmp) / "plain.jsonl"
        started = time.perf_counter()
        for i in range(n):
            with plain.open("a") as handle:
                handle.write(json.dumps({"actor": "bench", "i": i}) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        baseline = (time.perf_counter() - started) / n
    return {"append_ms": chained * 1e3, "plain_fsync_append_ms": baseline * 1e3,
            "append_ratio": chained / baseline, "verify_us_per_entry": verify * 1e6}


def _p50(client: httpx.Client, path: str, n: int, **kwargs: Any) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(path, **kwargs)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    return statistics.median(times) * 1e3


def _seed(store: Any, batches: int) -> str:
    now = datetime.now(UTC)
    finding = "https://w3id.org/twinfed/finding/recommendation/R-1"
    lines = [f"<{finding}> <{TYPE}> <{TF}Recommendation> ."]
    graphs: dict[str, bytes] = {}
    meta: dict[str, GraphMetadata] = {}
    for m in range(2):
        model = f"https://w3id.org/twinfed/finding/model/M-{m}"
        lines += [f"<{finding}> <{PROV}wasDerivedFrom> <{model}> .",
                  f"<{model}> <{TYPE}> <{TF}SoftSensorModel> ."]
        for b in range(batches):
            lines.append(f"<{model}> <{PROV}used> <{SITE}batch/B-{b}> .")
    for b in range(batches):
        iri = f"{SITE}batch/B-{b}"
        graphs[iri] = (f"<{iri}> <{TYPE}> <{TF}Batch> .\n<{iri}> <{TF}batchId> \"B-{b}\" .\n"
                       f"<{iri}> <{TF}atSite> <{SITE}site> .\n"
                       f"<{iri}> <{PROV}wasGeneratedBy> <{SITE}export/1> .\n"
                       f"<{iri}> <{TF}rawData> <http://site-a.example/batches/B-{b}> .\n"
                       ).encode()
        meta[iri] = GraphMetadata(site="SITE-A", sponsor="ACME", kind="batch",
                                  received_at=now)
    graphs["https://w3id.org/twinfed/finding/graph/r"] = ("\n".join(lines) + "\n").encode()
    meta["https://w3id.org/twinfed/finding/graph/r"] = GraphMetadata(sponsor="ACME",
                                                                     received_at=now)
    graphs[f"{SITE}meta"] = (f"<{SITE}site> <{TYPE}> <{TF}Site> .\n"
                             f"<{SITE}export/1> <{TYPE}> <{TF}Export> .\n").encode()
    meta[f"{SITE}meta"] = GraphMetadata(site="SITE-A", received_at=now, kind="site-meta")
    store.replace_graphs(graphs, meta)
    return finding


def _fuzz(app: Any, client: httpx.Client, per_operation: int = 6) -> dict[str, int]:
    import random

    from tests.test_fuzz import SEED, Tally, _body, _path, _schema_fields, _value

    rng, tally, spec = random.Random(SEED), Tally(), app.openapi()
    store = app.state.store
    before = {g: store.get_graph(g) for g in store.graph_names()}
    quality = client.post("/users", json={"name": "qa", "roles": ["quality"],
                                          "sponsors": ["ACME"]}).json()["token"]
    for template, operations in sorted(spec["paths"].items()):
        for method, operation in sorted(operations.items()):
            for _ in range(per_operation):
                headers = {"Authorization": f"Bearer {rng.choice([quality, 'user_x' * 8])}"}
                body = None
                if method in ("post", "put", "patch"):
                    body, headers["Content-Type"] = _body(rng, _schema_fields(spec, operation))
                params = {"query": str(_value(rng))[:2000], "iri": str(_value(rng))[:2000]}
                tally.faults += 1
                tally.check(client.request(method.upper(), _path(rng, template), params=params,
                                           content=body, headers=headers), "qa")
    lost = sum(1 for g, content in before.items()
               if g not in store.graph_names() or store.get_graph(g) != content)
    return {"requests_fuzzed": tally.requests, "faults_injected": tally.faults,
            "server_errors": tally.server_errors, "leaks": tally.leaks, "items_lost": lost}


def main() -> dict[str, Any]:
    figures: dict[str, Any] = {"audit": _appends(300)}
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(FederationSettings(data=Path(tmp), admin_token=ADMIN,
                                            rate_limit_per_min=10**7, rate_limit_burst=10**6))
        with serve(app) as url, httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}) as client:
            finding = _seed(app.state.store, 20)
            _p50(client, "/sites", 50)  # warm-up
            health = _p50(client, "/health", 200)
            sites = _p50(client, "/sites", 200)
            trace = _p50(client, "/trace", 30, params={"iri": finding})
            listing = _p50(client, "/sparql", 30, params={"query": (
                f"SELECT ?b WHERE {{ <{finding}> <{PROV}wasDerivedFrom>/<{PROV}used> ?b }}")})
            body = client.get("/trace", params={"iri": finding}).json()
            figures["fuzz"] = _fuzz(app, client)
    figures["request"] = {"health_p50_ms": health, "sites_p50_ms": sites,
                          "overhead_ms": sites - health}
    figures["trace"] = {"trace_p50_ms": trace, "one_sparql_p50_ms": listing,
                        "ratio": trace / listing, "nodes": len(body["nodes"]),
                        "batches": len(body["origins"]["batches"]), "queries": body["queries"]}
    audit, request, tr = figures["audit"], figures["request"], figures["trace"]
    print(f"audit append (chain+flock+fsync): {audit['append_ms']:.2f} ms vs plain fsync "
          f"append {audit['plain_fsync_append_ms']:.2f} ms (x{audit['append_ratio']:.2f}); "
          f"verify {audit['verify_us_per_entry']:.0f} us/entry")
    print(f"request: /health p50 {request['health_p50_ms']:.2f} ms, /sites (limits, auth, "
          f"role) p50 {request['sites_p50_ms']:.2f} ms")
    fz = figures["fuzz"]
    print(f"fuzz: requests fuzzed {fz['requests_fuzzed']}, faults injected "
          f"{fz['faults_injected']}, 5xx {fz['server_errors']}, items lost "
          f"{fz['items_lost']}, leaks {fz['leaks']}")
    print(f"trace: {tr['nodes']} nodes, {tr['batches']} batches in {tr['queries']} store "
          f"queries, p50 {tr['trace_p50_ms']:.1f} ms vs one SPARQL listing the batches "
          f"{tr['one_sparql_p50_ms']:.1f} ms (x{tr['ratio']:.1f})")
    return figures


if __name__ == "__main__":
    main()
