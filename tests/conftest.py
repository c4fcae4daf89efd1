"""Test fixtures: a real Neo4j per site, chosen as the map says.

Order: ``NEO4J_URI`` if set; a Docker engine if ``docker info`` answers (testcontainers'
Neo4j module); otherwise the embedded launcher of ``deploy/neo4j`` (one JVM per test
session hosting one DBMS per site). Each test gets a clean database.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from neo4j import Driver, GraphDatabase

from site_node.graph.schema import install_schema
from site_node.neo4j_embedded import LAUNCHER_DIR, EmbeddedNeo4j, ensure_launcher_built

#: Site DBMS instances the session launcher hosts.
SESSION_SITES = ("site_a", "site_b", "site_c")


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def launcher_dir() -> Path:
    return Path(os.environ.get("TWINFED_NEO4J_LAUNCHER_DIR", LAUNCHER_DIR))


@pytest.fixture(scope="session")
def neo4j_uris(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Bolt URI per site name for the whole test session."""
    if os.environ.get("NEO4J_URI"):
        uri = os.environ["NEO4J_URI"]
        yield dict.fromkeys(SESSION_SITES, uri)
        return
    if _docker_answers():  # pragma: no cover - no Docker engine on our machines
        from testcontainers.neo4j import Neo4jContainer

        containers = [Neo4jContainer("neo4j:5.26").with_env("NEO4J_AUTH", "none")
                      for _ in SESSION_SITES]
        for container in containers:
            container.start()
        try:
            yield {name: c.get_connection_url() for name, c in zip(SESSION_SITES, containers,
                                                                    strict=True)}
        finally:
            for container in containers:
                container.stop()
        return
    ensure_launcher_built(launcher_dir())
    server = EmbeddedNeo4j(list(SESSION_SITES), data_dir=tmp_path_factory.mktemp("neo4j"),
                           launcher_dir=launcher_dir())
    uris = server.start()
    try:
        yield uris
    finally:
        server.stop()


def load_campaign_site(driver: Driver, campaign_dir: Path, site: str) -> None:
    """A clean database holding ``site``'s bundles of the campaign, ingested and analysed."""
    from site_node.analysis.service import analyse
    from site_node.ingest.service import ingest_bundle

    clean_database(driver)
    for bundle in sorted(campaign_dir.glob(f"{site}*")):
        assert ingest_bundle(driver, bundle, site_code=site, max_file_bytes=2**30).ok
    analyse(driver, site_code=site)


def clean_database(driver: Driver) -> None:
    """Empty the database and (re)install the site schema."""
    _clean(driver)
    install_schema(driver)


def _clean(driver: Driver) -> None:
    with driver.session() as session:  # CALL ... IN TRANSACTIONS needs an implicit transaction
        session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"
                    ).consume()


@pytest.fixture(scope="session")
def _drivers(neo4j_uris: dict[str, str]) -> Iterator[dict[str, Driver]]:
    drivers = {name: GraphDatabase.driver(uri, notifications_min_severity="OFF")
               for name, uri in neo4j_uris.items()}
    for driver in drivers.values():
        driver.verify_connectivity()
    try:
        yield drivers
    finally:
        for driver in drivers.values():
            driver.close()


@pytest.fixture
def site_driver(_drivers: dict[str, Driver]) -> Driver:
    """A clean site database (site_a) with the schema installed."""
    driver = _drivers["site_a"]
    _clean(driver)
    install_schema(driver)
    return driver


@pytest.fixture
def site_drivers(_drivers: dict[str, Driver]) -> dict[str, Driver]:
    """Every session site database, each clean with the schema installed."""
    for driver in _drivers.values():
        _clean(driver)
        install_schema(driver)
    return _drivers


@pytest.fixture(scope="session")
def site_uri(neo4j_uris: dict[str, str]) -> str:
    return neo4j_uris["site_a"]


@pytest.fixture(scope="session")
def campaign_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated 3-site campaign (bundles + ground truth), written once per session."""
    from bioprocess.campaign import CampaignConfig, generate_campaign
    from twinfed.bundle_writer import write_campaign

    out = tmp_path_factory.mktemp("campaign")
    campaign = generate_campaign(CampaignConfig(n_sites=3, batches_per_site=6, seed=11,
                                                fault_rate=0.4, second_sponsor_batches=1))
    write_campaign(campaign, out / "c", fmt="parquet")
    return out / "c"
