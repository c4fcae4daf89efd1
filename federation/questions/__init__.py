"""Named diagnostic questions: parameterised SPARQL files with a title and a description."""
