# An equipment comparison of an aspect the package does not know.
BASE <https://w3id.org/twinfed/federation/package/P-1-SITE-A-to-SITE-B/1/>
PREFIX tf: <https://w3id.org/twinfed/ontology#>

DELETE { GRAPH <parameters> { <equipment/scale> tf:aspect ?aspect } }
INSERT { GRAPH <parameters> { <equipment/scale> tf:aspect "colour" } }
WHERE { GRAPH <parameters> { <equipment/scale> tf:aspect ?aspect } }
