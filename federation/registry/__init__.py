"""Sites, users, their credentials (stored hashed) and the sync ledger (SQLite)."""
