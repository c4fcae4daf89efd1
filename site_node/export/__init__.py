"""The site's RDF export: batch graphs in the shared structure, validated before they leave."""
