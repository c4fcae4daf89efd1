"""Snapshot a site database so tests can assert that nothing changed."""

from __future__ import annotations

from neo4j import Driver


def fingerprint(driver: Driver) -> dict[str, object]:
    """Node counts per label, relationship count, and every batch's identity and revision."""
    labels, _, _ = driver.execute_query(
        "MATCH (n) UNWIND labels(n) AS label RETURN label, count(*) AS n ORDER BY label")
    rels, _, _ = driver.execute_query("MATCH ()-[r]->() RETURN count(r) AS n")
    batches, _, _ = driver.execute_query(
        "MATCH (b:Batch) RETURN b.batch_id AS id, b.rev AS rev, b.content_hash AS hash, "
        "toString(b.ingested_at) AS at ORDER BY id")
    site, _, _ = driver.execute_query("MATCH (s:Site) RETURN s.code AS code, s.rev AS rev")
    return {
        "labels": {r["label"]: r["n"] for r in labels},
        "relationships": rels[0]["n"],
        "batches": [dict(r) for r in batches],
        "site": [dict(r) for r in site],
    }
