# A recipe phase without its position in the process.
BASE <https://w3id.org/twinfed/federation/package/P-1-SITE-A-to-SITE-B/1/>
PREFIX tf: <https://w3id.org/twinfed/ontology#>

DELETE WHERE { GRAPH <parameters> { <recipe/growth> tf:phaseOrder ?order } }
