"""Technology-transfer knowledge packages: build, validate, report, store and diff them."""
