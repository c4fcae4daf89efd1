"""The facility service: the site graph in Neo4j, batch ingest, and the site API."""
