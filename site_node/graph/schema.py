"""Install the site graph's constraints and indexes, idempotently."""

from __future__ import annotations

import io

from neo4j import Driver
from neomodel import db

from site_node.graph.model import NODE_CLASSES


def install_schema(driver: Driver) -> None:
    """Create every constraint and index declared in :mod:`site_node.graph.model`.

    Safe to call at every start-up: existing constraints are left as they are.
    """
    db.set_connection(driver=driver)
    quiet_output = io.StringIO()
    for node_class in NODE_CLASSES:
        db.install_labels(node_class, quiet=True, stdout=quiet_output)
