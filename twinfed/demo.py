"""``twinfed demo``: the main job end to end on embedded defaults.

Generates a 3-site campaign with the process twin, starts one embedded Neo4j DBMS per site,
ingests each site's bundles into its own node, shows that a re-ingest changes nothing, and
prints what each site holds.
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
from site_node.graph.schema import install_schema
from site_node.ingest.service import ingest_bundle
from site_node.neo4j_embedded import ENV_LAUNCHER_DIR, LAUNCHER_DIR, EmbeddedNeo4j
from site_node.repository import SiteRepository
from twinfed.bundle_writer import write_campaign
from twinfed.console import err, out
from twinfed.site_cli import print_report

MAX_FILE_BYTES = 2**30


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
) -> None:
    """Generate a 3-site campaign, ingest it into three site nodes, print what each holds."""
    if workdir.exists():
        shutil.rmtree(workdir)
    started = time.perf_counter()
    err.print(f"generating a 3-site campaign ({batches} batches per site, seed {seed}) ...")
    campaign = generate_campaign(CampaignConfig(n_sites=3, batches_per_site=batches, seed=seed))
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
        for site, uri in neo4j.uris.items():
            with GraphDatabase.driver(uri, notifications_min_severity="OFF") as driver:
                _ingest_site(driver, site, by_site[site])
                summaries[site] = SiteRepository(driver).site_summary()
        first_site = sorted(by_site)[0]
        with GraphDatabase.driver(neo4j.uris[first_site],
                                  notifications_min_severity="OFF") as driver:
            again = ingest_bundle(driver, by_site[first_site][0], site_code=first_site,
                                  max_file_bytes=MAX_FILE_BYTES)
            outcomes = sorted({w.outcome for w in again.written})
            out.print(f"re-ingest of {by_site[first_site][0].name} into {first_site}: "
                      f"{len(again.written)} batches {', '.join(outcomes)}; site revision "
                      f"still {SiteRepository(driver).site_summary()['rev']}", highlight=False)
    table = Table("site", "batches", "time series", "points", "lab results", "spectra",
                  "deviations", "rev", title="What each site holds")
    for site, s in summaries.items():
        table.add_row(site, *(f"{s[k]:,}" for k in ("batches", "time_series", "points",
                                                      "lab_results", "spectra", "deviations",
                                                      "rev")))
    out.print(table)
    out.print(f"demo finished in {time.perf_counter() - started:.0f} s", highlight=False)
