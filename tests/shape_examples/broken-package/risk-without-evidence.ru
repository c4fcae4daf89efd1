# A risk that names no evidence.
BASE <https://w3id.org/twinfed/federation/package/P-1-SITE-A-to-SITE-B/1/>
PREFIX prov: <http://www.w3.org/ns/prov#>

DELETE WHERE { GRAPH <parameters> { <risk/1> prov:wasDerivedFrom ?evidence } }
