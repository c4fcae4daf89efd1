"""The site's property graph: neomodel classes (the schema) and idempotent constraints."""
