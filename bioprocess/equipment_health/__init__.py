"""Equipment health: per-batch indicators of an asset, drift across its batches, maintenance."""
