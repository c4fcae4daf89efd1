"""Run the site analytics (phases, features, envelopes, deviation events, T²/SPE) on the
site's Neo4j and store the results beside the batches."""
