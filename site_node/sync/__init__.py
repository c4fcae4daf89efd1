"""Push the site's validated export to the federation (incremental, idempotent)."""
