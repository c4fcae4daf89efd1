"""Benchmark: server time of each dashboard page on the demo's data, against the JSON API.

The network is the demo's (``twinfed demo`` defaults: 3 sites x 8 batches, seed 7, plus 2
batches of a second sponsor): a generated campaign ingested into three embedded Neo4j site
nodes, analysed, each site's API served over HTTP (batch pages fetch raw series from
there), synced over HTTP into a federation (embedded Oxigraph), signature discovery run
once (as the demo does). A user scoped to SP-ACME logs in through the form; each page is
requested :data:`REPEAT` times after one warm-up, and the server's own time
(``Server-Timing`` header: query + plots + template) is reported as p50/max against the
issue's 1 s target. Baselines, in the same run: the JSON API call that returns the same
data (``GET /sites``, the deviation and batch queries on ``/sparql``, the named question on
``/sparql``, each capability's own route — ``/signatures``, ``/compare``, ``/trace`` — and
for a batch page the site API calls it makes, one after the other: the batch, then series
and envelope of up to six deviating tags), timed end to end from the client.

**End-to-end sync** is measured while the network is built: each site's ``sync_site`` (export
from Neo4j with the site's SHACL check, pushes over HTTP, the federation's validation,
alignment and atomic store write), in batches/s and triples/s, against the baseline of a
second ``sync_site`` with nothing new to send (the round trip every sync pays).

Run: ``python -m benchmarks.dashboard [--batches 8] [--repeat 5] [--hold]``; ``--hold``
keeps the network up (prints URLs and tokens) for working on the pages. ``main()`` returns
the printed figures as a dict.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
from neo4j import GraphDatabase

from bioprocess.campaign import CampaignConfig, generate_campaign
from federation.api.app import create_app
from federation.config import FederationSettings
from federation.questions.catalogue import question
from federation.web.queries import PREFIXES, DeviationFilter, deviations_sparql
from site_node.analysis.service import analyse
from site_node.graph.schema import install_schema
from site_node.ingest.service import ingest_bundle
from site_node.neo4j_embedded import LAUNCHER_DIR, EmbeddedNeo4j
from site_node.sync.client import FederationClient, sync_site
from twinfed.bundle_writer import write_campaign
from twinfed.dashboard_demo import site_apis
from twinfed.serving import serve

REPEAT = 5
ADMIN = "bench-admin"
TARGET_S = 1.0


@contextmanager
def demo_network(workdir: Path, batches: int, seed: int, port: int | None = None
                 ) -> Iterator[dict[str, Any]]:
    """Sites ingested, analysed, served, synced; the federation up. Yields URLs and tokens."""
    started = time.perf_counter()
    stages: dict[str, float] = {}
    campaign = generate_campaign(CampaignConfig(n_sites=3, batches_per_site=batches, seed=seed))
    written = write_campaign(campaign, workdir / "campaign", fmt="parquet")
    by_site: dict[str, list[Path]] = {}
    for bundle in written.bundles:
        by_site.setdefault(bundle.name.split("_")[0], []).append(bundle)
    with ExitStack() as stack:
        neo4j = stack.enter_context(EmbeddedNeo4j(sorted(by_site), data_dir=workdir / "neo4j",
                                                  launcher_dir=LAUNCHER_DIR))
        drivers = {site: GraphDatabase.driver(uri, notifications_min_severity="OFF")
                   for site, uri in neo4j.uris.items()}
        for driver in drivers.values():
            stack.callback(driver.close)
        stages["simulate + write bundles + start Neo4j"] = time.perf_counter() - started
        for site, driver in drivers.items():
            install_schema(driver)
            for bundle in sorted(by_site[site]):
                ingest_bundle(driver, bundle, site_code=site, max_file_bytes=2**30)
            analyse(driver, site_code=site)
        stages["ingest + analyse"] = time.perf_counter() - started - sum(stages.values())
        apis = stack.enter_context(site_apis(drivers))
        settings = FederationSettings(data=workdir / "federation", admin_token=ADMIN)
        url = stack.enter_context(serve(create_app(settings), port=port))
        admin = httpx.Client(base_url=url, timeout=300,
                             headers={"Authorization": f"Bearer {ADMIN}"})
        stack.callback(admin.close)
        synced, resynced = [], []
        for site, driver in drivers.items():
            client = FederationClient(url, admin.post("/sites", json={"code": site}
                                                      ).json()["token"])
            try:
                synced.append(sync_site(driver, client, site_code=site, api_base=apis[site],
                                        software_version="bench"))
                resynced.append(sync_site(driver, client, site_code=site,
                                          api_base=apis[site], software_version="bench"))
            finally:
                client.close()
        stages["sync (and re-sync)"] = time.perf_counter() - started - sum(stages.values())
        sync = _sync_figures(synced, resynced)
        tokens = {name: admin.post("/users", json={"name": name, "roles": ["quality"],
                                                   "sponsors": [sponsor]}).json()["token"]
                  for name, sponsor in (("qa-acme", "SP-ACME"), ("qa-beta", "SP-BETA"))}
        tokens["admin"] = ADMIN
        admin.post("/signatures/discover", json={})  # as the demo does: signatures to show
        stages["signature discovery"] = time.perf_counter() - started - sum(stages.values())
        print(f"network ready in {time.perf_counter() - started:.0f} s ("
              + ", ".join(f"{k} {v:.0f} s" for k, v in stages.items())
              + f"): federation {url}, sites {apis}", flush=True)
        yield {"url": url, "sites": apis, "tokens": tokens, "sync": sync,
               "build_stages_s": stages}


def _sync_figures(synced: list, resynced: list) -> dict[str, Any]:
    """End-to-end sync throughput of the first syncs; a sync with nothing new as baseline."""
    batches = sum(r.batches for r in synced)
    seconds = sum(r.seconds for r in synced)
    noop_ms = statistics.median(r.seconds for r in resynced) * 1000
    figures = {"sites": len(synced), "batches": batches, "seconds": seconds,
               "batches_per_s": batches / seconds, "noop_sync_ms": noop_ms,
               "seconds_per_batch_over_noop": (seconds / batches) / (noop_ms / 1000)}
    print(f"end-to-end sync over HTTP (site export + SHACL, push, federation validation, "
          f"alignment, store): {batches} batches from {len(synced)} sites in {seconds:.1f} s "
          f"= {figures['batches_per_s']:.2f} batches/s; baseline, a sync with nothing new: "
          f"p50 {noop_ms:.0f} ms (one batch costs {figures['seconds_per_batch_over_noop']:.1f}"
          f"x that)", flush=True)
    return figures


def _login(url: str, token: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=120)
    response = client.post("/ui/login", data={"token": token, "next": "/ui/sites"})
    assert response.status_code == 303, response.text
    return client


def _server_ms(response: httpx.Response) -> float:
    timing = response.headers.get("server-timing", "")
    return float(timing.split("dur=")[1]) if "dur=" in timing else float("nan")


def _timed(call: Callable[[], httpx.Response], repeat: int) -> tuple[list[float], list[float]]:
    call()  # warm-up
    server, wall = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        response = call()
        wall.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (response.status_code, response.text[:300])
        server.append(_server_ms(response))
    return server, wall


def measure(net: dict[str, Any], repeat: int = REPEAT) -> dict[str, Any]:
    url, token = net["url"], net["tokens"]["qa-acme"]
    ui = _login(url, token)
    api = httpx.Client(base_url=url, timeout=120, headers={
        "Authorization": f"Bearer {token}", "Accept": "application/sparql-results+json"})
    batches = api.post("/sparql", data={"query": PREFIXES + """
        SELECT ?site ?id ?raw (COUNT(?e) AS ?n) WHERE {
          ?b a tf:Batch ; tf:batchId ?id ; tf:atSite ?s ; tf:rawData ?raw .
          ?s tf:siteCode ?site . ?e a tf:DeviationEvent ; tf:ofBatch ?b }
        GROUP BY ?site ?id ?raw ORDER BY DESC(?n) LIMIT 1"""}).json()["results"]["bindings"][0]
    site, batch_id, raw = (batches[k]["value"] for k in ("site", "id", "raw"))
    tags = [r["tag"]["value"] for r in api.post("/sparql", data={"query": PREFIXES + f"""
        SELECT ?tag (MAX(?m) AS ?top) WHERE {{ ?b tf:batchId "{batch_id}" . ?e tf:ofBatch ?b ;
          a tf:DeviationEvent ; tf:ofTag ?t ; tf:magnitude ?m . ?t skos:prefLabel ?tag }}
        GROUP BY ?tag ORDER BY DESC(?top)"""}
        ).json()["results"]["bindings"]]
    deviations_query = PREFIXES + deviations_sparql(DeviationFilter(), 500)
    site_client = httpx.Client(timeout=60)

    def raw_series() -> httpx.Response:
        """The site API calls the batch page makes, one after the other."""
        detail = site_client.get(raw)
        held = {s["tag"] for s in detail.json()["series"]}
        for tag in [t for t in tags if t in held][:6]:
            site_client.get(f"{raw}/series/{tag}", params={"max_points": 400})
            site_client.get(f"{raw}/envelope/{tag}")
        return detail

    cases: dict[str, tuple[Callable[[], httpx.Response], Callable[[], httpx.Response]]] = {
        "sites": (lambda: ui.get("/ui/sites"), lambda: api.get("/sites")),
        "deviations": (lambda: ui.get("/ui/deviations"),
                       lambda: api.post("/sparql", data={"query": deviations_query})),
        "deviations?site": (lambda: ui.get("/ui/deviations", params={"site": site}),
                            lambda: api.post("/sparql", data={"query": deviations_query})),
        "batches": (lambda: ui.get("/ui/batches"),
                    lambda: api.post("/sparql", data={"query": PREFIXES +
                                     "SELECT ?b ?id WHERE { ?b tf:batchId ?id }"})),
        "batch (plots)": (lambda: ui.get(f"/ui/batches/{site}/{batch_id}"), raw_series),
        "question our_titre": (lambda: ui.get("/ui/questions/our_titre"),
                               lambda: api.post("/sparql",
                                                data={"query": question("our_titre").bind()})),
        "questions": (lambda: ui.get("/ui/questions"), lambda: api.get("/questions")),
        "sparql console": (lambda: ui.get("/ui/sparql", params={"query": PREFIXES +
                           "SELECT ?site (COUNT(?b) AS ?n) WHERE { ?b tf:atSite ?s . "
                           "?s tf:siteCode ?site } GROUP BY ?site"}),
                           lambda: api.post("/sparql", data={"query": PREFIXES +
                           "SELECT ?site (COUNT(?b) AS ?n) WHERE { ?b tf:atSite ?s . "
                           "?s tf:siteCode ?site } GROUP BY ?site"})),
    }
    batch_iri = f"https://w3id.org/twinfed/site/{site}/batch/{batch_id}"
    process = api.post("/sparql", data={"query": PREFIXES + """
        SELECT ?code WHERE { ?b tf:ofProcess ?p . ?p tf:processCode ?code } LIMIT 1"""}
        ).json()["results"]["bindings"][0]["code"]["value"]
    listed = api.get("/signatures").json()
    shown = next((s for s in listed if s["kind"] == "discovered"), listed[0])["id"]
    paired = {  # page -> the API call serving the same data (a capability's own route)
        "signatures": ("/ui/signatures", "/signatures", {}),
        "signature": (f"/ui/signatures/{shown}", f"/signatures/{shown}", {}),
        "compare": ("/ui/compare", "/compare", {"process": process}),
        "trace": ("/ui/trace", "/trace", {"iri": batch_iri}),
        "models": ("/ui/models", "/health", {}),
        "packages": ("/ui/packages", "/health", {}),
    }
    for key, (page_path, api_path, params) in paired.items():
        cases[key] = (lambda p=page_path, q=params: ui.get(p, params=q),
                      lambda p=api_path, q=params: api.get(p, params=q))
    results: dict[str, Any] = {}
    print(f"{'page':<22}{'server p50':>11}{'server max':>11}{'wall p50':>10}"
          f"{'API p50':>9}{'ratio':>7}  (ms; target < {TARGET_S * 1000:.0f} ms server)")
    for name, (page, baseline) in cases.items():
        server, wall = _timed(page, repeat)
        _, base_wall = _timed(baseline, repeat)
        row = {"server_p50_ms": statistics.median(server), "server_max_ms": max(server),
               "wall_p50_ms": statistics.median(wall),
               "api_p50_ms": statistics.median(base_wall)}
        row["ratio_to_api"] = row["wall_p50_ms"] / row["api_p50_ms"]
        row["under_target"] = row["server_max_ms"] < TARGET_S * 1000
        results[name] = row
        print(f"{name:<22}{row['server_p50_ms']:>11.1f}{row['server_max_ms']:>11.1f}"
              f"{row['wall_p50_ms']:>10.1f}{row['api_p50_ms']:>9.1f}"
              f"{row['ratio_to_api']:>7.1f}{'' if row['under_target'] else '  OVER TARGET'}")
    for client in (ui, api, site_client):
        client.close()
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=8, help="batches per site (demo: 8)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=REPEAT)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--hold", action="store_true", help="keep serving after measuring")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="twinfed-bench-dashboard-") as folder, \
            demo_network(Path(folder), args.batches, args.seed, args.port) as net:
        results = measure(net, args.repeat)
        results["end_to_end_sync"] = net["sync"]
        results["network_build_stages_s"] = net["build_stages_s"]
        if args.hold:
            print(f"holding: {net['url']}/ui/ tokens {net['tokens']}", flush=True)
            try:
                while True:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
    return results


if __name__ == "__main__":
    main()
