"""Open the site's Neo4j driver and make sure its schema is in place."""

from __future__ import annotations

from neo4j import Driver, GraphDatabase
from neo4j.exceptions import Neo4jError, ServiceUnavailable

from bioprocess.errors import StoreUnavailableError
from site_node.config import SiteSettings
from site_node.graph.schema import install_schema


def connect(settings: SiteSettings) -> Driver:
    """A verified driver for the site's Neo4j with the site schema installed."""
    auth = (settings.neo4j_user, settings.neo4j_password or "") if settings.neo4j_user else None
    driver = GraphDatabase.driver(settings.neo4j_uri, auth=auth,
                                  notifications_min_severity="OFF")
    try:
        driver.verify_connectivity()
        install_schema(driver)
    except (ServiceUnavailable, OSError, Neo4jError) as exc:
        driver.close()
        raise StoreUnavailableError(
            f"cannot reach the site's Neo4j at {settings.neo4j_uri}: {exc}; start it with "
            "`twinfed neo4j start` or set TWINFED_SITE_NEO4J_URI"
        ) from exc
    return driver
