"""The federation's HTTP API (FastAPI): registry, sync inbox, SPARQL endpoint."""
