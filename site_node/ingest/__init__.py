"""Batch ingest: read and check a bundle, then write each batch in one transaction."""
