"""``twinfed demo``: the main job end to end on embedded defaults."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Annotated

import typer
from neo4j import GraphDatabase
from rich.table import Table

from site_node.graph.schema import install_schema
from site_node.ingest.service import ingest_bundle
from site_node.neo4j_embedded import ENV_LAUNCHER_DIR, LAUNCHER_DIR, EmbeddedNeo4j
from site_node.repository import SiteRepository
from twinfed.console import err, out
from twinfed.site_cli import print_report

EXAMPLE_BUNDLE = Path(__file__).resolve().parents[1] / "examples" / "bundle"
DEMO_SITES = ("site-a", "site-b", "site-c")


def demo(
    workdir: Annotated[Path, typer.Option(help="where the demo keeps its data (wiped first)")]
    = Path(".twinfed/demo"),
) -> None:
    """Start Neo4j for three sites, ingest a bundle into each, print what each site holds."""
    if workdir.exists():
        shutil.rmtree(workdir)
    launcher_dir = Path(os.environ.get(ENV_LAUNCHER_DIR, LAUNCHER_DIR))
    err.print("starting embedded Neo4j for three sites ...")
    started = time.perf_counter()
    with EmbeddedNeo4j(list(DEMO_SITES), data_dir=workdir / "neo4j",
                       launcher_dir=launcher_dir) as neo4j:
        out.print(f"Neo4j ready in {time.perf_counter() - started:.1f} s: "
                  + ", ".join(f"{n} {u}" for n, u in neo4j.uris.items()), highlight=False)
        summaries = {}
        for site, uri in neo4j.uris.items():
            with GraphDatabase.driver(uri, notifications_min_severity="OFF") as driver:
                install_schema(driver)
                out.rule(f"{site}: ingest {EXAMPLE_BUNDLE.name}")
                print_report(ingest_bundle(driver, EXAMPLE_BUNDLE, site_code=None,
                                           max_file_bytes=2**30))
                again = ingest_bundle(driver, EXAMPLE_BUNDLE, site_code=None,
                                      max_file_bytes=2**30)
                out.print("re-ingest of the same bundle: "
                          + ", ".join(f"{w.batch_id} {w.outcome}" for w in again.written),
                          highlight=False)
                summaries[site] = SiteRepository(driver).site_summary()
    table = Table("site", "batches", "time series", "points", "lab results", "spectra",
                  "deviations", "rev", title="What each site holds")
    for site, s in summaries.items():
        table.add_row(site, *(f"{s[k]:,}" for k in ("batches", "time_series", "points",
                                                      "lab_results", "spectra", "deviations",
                                                      "rev")))
    out.print(table)
