"""Soft sensors at the site: training data from Neo4j, model cards, estimates, drift events."""
