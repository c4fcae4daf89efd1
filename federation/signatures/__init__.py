"""Recurring failure signatures: discover, describe, store (versioned, PROV-O) and match."""
