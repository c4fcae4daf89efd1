"""The central service: registry, sync inbox, alignment, store, SPARQL endpoint, analytics."""
