"""``twinfed demo``: the main job end to end on embedded defaults.

Generates a 3-site campaign with the process twin, starts one embedded Neo4j DBMS per site,
ingests each site's bundles into its own node (a re-ingest changes nothing), analyses each
site (features, envelopes, deviation events) and exports validated RDF, starts the
federation (embedded Oxigraph) on loopback, syncs every site to it over HTTP, and asks the
federation a cross-site question over its SPARQL endpoint.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Annotated

import typer
from neo4j import Driver, GraphDatabase
from rich.table import Table

from bioprocess.campaign import CampaignConfig, generate_campaign
from federation.api.app import create_app
from federation.config import FederationSettings
from site_node.analysis.service import analyse
from site_node.export.service import export_site
from site_node.graph.schema import install_schema
from site_node.ingest.service import ingest_bundle
from site_node.neo4j_embedded import ENV_LAUNCHER_DIR, LAUNCHER_DIR, EmbeddedNeo4j
from site_node.repository import SiteRepository
from site_node.sync.client import FederationClient, sync_site
from twinfed import __version__
from twinfed.ask_cli import show_comparison, show_question
from twinfed.bundle_writer import write_campaign
from twinfed.console import err, out
from twinfed.dashboard_demo import serve_dashboard, site_apis
from twinfed.equipment_cli import DEMO_DEGRADATIONS, show_equipment_health
from twinfed.package_cli import demo_package
from twinfed.serving import serve
from twinfed.signatures_cli import show_discovered_signatures
from twinfed.site_cli import print_analysis, print_report
from twinfed.softsensor_cli import demo_soft_sensor
from twinfed.twin_cli import show_live_twin

MAX_FILE_BYTES = 2**30
DEMO_ADMIN_TOKEN = "demo-admin"  # loopback-only demo; a real federation takes it from env


def _bundles_by_site(bundles: tuple[Path, ...]) -> dict[str, list[Path]]:
    by_site: dict[str, list[Path]] = {}
    for bundle in bundles:
        site = json.loads((bundle / "manifest.json").read_text())["site"]["code"]
        by_site.setdefault(site, []).append(bundle)
    return by_site


def _ingest_site(driver: Driver, site: str, bundles: list[Path]) -> None:
    install_schema(driver)
    for bundle in bundles:
        out.rule(f"{site}: ingest {bundle.name}")
        print_report(ingest_bundle(driver, bundle, site_code=site,
                                   max_file_bytes=MAX_FILE_BYTES))


def demo(
    workdir: Annotated[Path, typer.Option(help="where the demo keeps its data (wiped first)")]
    = Path(".twinfed/demo"),
    batches: Annotated[int, typer.Option(help="batches per site")] = 8,
    seed: Annotated[int, typer.Option(help="campaign seed")] = 7,
    port: Annotated[int | None, typer.Option(help="federation port (default: a free one)")]
    = None,
    serve_ui: Annotated[bool | None, typer.Option(
        "--serve/--no-serve", help="keep serving the dashboard until Ctrl-C at the end "
        "(default: only when stdin is a terminal)")] = None,
) -> None:
    """Generate a 3-site campaign, ingest it into three site nodes, print what each holds."""
    if workdir.exists():
        shutil.rmtree(workdir)
    started = time.perf_counter()
    err.print(f"generating a 3-site campaign ({batches} batches per site, seed {seed}) ...")
    campaign = generate_campaign(CampaignConfig(n_sites=3, batches_per_site=batches, seed=seed,
                                                degradations=DEMO_DEGRADATIONS))
    written = write_campaign(campaign, workdir / "campaign", fmt="parquet")
    out.print(f"campaign: {written.n_batches} batches in {len(written.bundles)} bundles, "
              f"{written.n_bytes / 2**20:.0f} MiB, ground truth in {written.ground_truth} "
              f"({time.perf_counter() - started:.1f} s)", highlight=False)
    by_site = _bundles_by_site(written.bundles)

    launcher_dir = Path(os.environ.get(ENV_LAUNCHER_DIR, LAUNCHER_DIR))
    err.print("starting embedded Neo4j, one DBMS per site ...")
    summaries = {}
    with EmbeddedNeo4j(sorted(by_site), data_dir=workdir / "neo4j",
                       launcher_dir=launcher_dir) as neo4j:
        out.print("Neo4j ready: " + ", ".join(f"{n} {u}" for n, u in neo4j.uris.items()),
                  highlight=False)
        drivers = {site: GraphDatabase.driver(uri, notifications_min_severity="OFF")
                   for site, uri in neo4j.uris.items()}
        try:
            for site, driver in drivers.items():
                _ingest_site(driver, site, by_site[site])
                print_analysis(analyse(driver, site_code=site))
                summaries[site] = SiteRepository(driver).site_summary()
            show_equipment_health(drivers, DEMO_DEGRADATIONS)
            show_live_twin(drivers)
            demo_soft_sensor(drivers)  # soft sensor, model card, out-of-domain flag, yield
            _show_reingest(drivers, by_site)
            _show_one_batch(drivers)
            _show_exports(drivers)
            _table(summaries)
            _federate(drivers, workdir, port, serve_ui)
        finally:
            for driver in drivers.values():
                driver.close()
    out.print(f"demo finished in {time.perf_counter() - started:.0f} s", highlight=False)


def _show_reingest(drivers: dict[str, Driver], by_site: dict[str, list[Path]]) -> None:
    site = sorted(by_site)[0]
    again = ingest_bundle(drivers[site], by_site[site][0], site_code=site,
                          max_file_bytes=MAX_FILE_BYTES)
    outcomes = sorted({w.outcome for w in again.written})
    out.print(f"re-ingest of {by_site[site][0].name} into {site}: {len(again.written)} batches "
              f"{', '.join(outcomes)}; site revision still "
              f"{SiteRepository(drivers[site]).site_summary()['rev']}", highlight=False)


def _show_one_batch(drivers: dict[str, Driver]) -> None:
    """Features and deviation events of the site batch with the most events."""
    best = None
    for site, driver in drivers.items():
        rows, _, _ = driver.execute_query(
            "MATCH (b:Batch)-[:HAS_DEVIATION_EVENT]->(e) WITH b, count(e) AS n "
            "ORDER BY n DESC LIMIT 1 RETURN b.batch_id AS id, n")
        if rows and (best is None or rows[0]["n"] > best[2]):
            best = (site, rows[0]["id"], rows[0]["n"])
    if best is None:
        return
    site, batch_id, _ = best
    driver = drivers[site]
    features, _, _ = driver.execute_query(
        "MATCH (:Batch {batch_id: $id})-[:HAS_FEATURE]->(f) RETURN count(f) AS n, "
        "collect(DISTINCT f.phase) AS phases", id=batch_id)
    events, _, _ = driver.execute_query(
        "MATCH (:Batch {batch_id: $id})-[:HAS_DEVIATION_EVENT]->(e) RETURN e.tag AS tag, "
        "e.phase AS phase, e.direction AS direction, e.magnitude AS magnitude, "
        "e.start_h AS start, e.duration_h AS duration ORDER BY e.magnitude DESC LIMIT 8",
        id=batch_id)
    out.rule(f"{site} batch {batch_id}")
    out.print(f"{features[0]['n']} per-phase features over phases {features[0]['phases']}",
              highlight=False)
    table = Table("tag", "phase", "direction", "magnitude (SD)", "start (h)", "duration (h)",
                  title="largest deviation events against the site's envelope")
    for e in events:
        table.add_row(e["tag"], e["phase"], e["direction"], f"{e['magnitude']:.1f}",
                      f"{e['start']:.1f}", f"{e['duration']:.1f}")
    out.print(table)


def _show_exports(drivers: dict[str, Driver]) -> None:
    for site, driver in drivers.items():
        export = export_site(driver, site_code=site, api_base="http://127.0.0.1:8701",
                             software_version=__version__)
        size = len(export.serialize("nquads"))
        out.print(f"{site} export: {len(export.batch_ids)} batch graphs, {export.triples:,} "
                  f"triples, {size / 2**20:.1f} MiB N-Quads; SHACL: "
                  f"{'conforms' if export.report.conforms else 'REFUSED'} "
                  f"(validated in {export.validate_seconds:.1f} s)", highlight=False)


def _table(summaries: dict[str, dict]) -> None:
    table = Table("site", "batches", "time series", "points", "lab results", "spectra",
                  "deviations", "rev", title="What each site holds")
    for site, s in summaries.items():
        table.add_row(site, *(f"{s[k]:,}" for k in ("batches", "time_series", "points",
                                                      "lab_results", "spectra", "deviations",
                                                      "rev")))
    out.print(table)


def _federate(drivers: dict[str, Driver], workdir: Path, port: int | None,
              serve_ui: bool | None = None) -> None:
    import httpx

    settings = FederationSettings(data=workdir / "federation", admin_token=DEMO_ADMIN_TOKEN)
    with serve(create_app(settings), port=port) as url, site_apis(drivers) as apis:
        out.rule(f"federation at {url}")
        admin = httpx.Client(base_url=url, timeout=300,
                             headers={"Authorization": f"Bearer {DEMO_ADMIN_TOKEN}"})
        for site, driver in drivers.items():
            token = admin.post("/sites", json={"code": site}).json()["token"]
            client = FederationClient(url, token)
            try:
                result = sync_site(driver, client, site_code=site,
                                   api_base=apis[site],
                                   software_version=__version__)
            finally:
                client.close()
            unmapped = sorted({u for a in result.pushes for u in a.unmapped})
            out.print(f"sync {site}: {result.batches} batches in {result.seconds:.1f} s, "
                      f"acknowledged revision {result.acknowledged_rev}; "
                      f"{len(unmapped)} unmapped (kept as site-local): "
                      f"{', '.join(unmapped[:6])}{' ...' if len(unmapped) > 6 else ''}",
                      highlight=False)
        quality = admin.post("/users", json={"name": "qa-acme", "roles": ["quality"],
                                             "sponsors": ["SP-ACME"]}).json()["token"]
        show_question(url, quality, "our_titre")  # GET /questions/our_titre, with evidence
        show_question(url, quality, "equipment_drift")
        show_comparison(url, quality)
        show_discovered_signatures(url, DEMO_ADMIN_TOKEN)
        demo_package(url, DEMO_ADMIN_TOKEN, workdir, drivers)  # knowledge package S -> R
        serve_dashboard(url, {"qa-acme (quality, SP-ACME)": quality,
                              "admin": DEMO_ADMIN_TOKEN}, serve_ui)
        admin.close()
