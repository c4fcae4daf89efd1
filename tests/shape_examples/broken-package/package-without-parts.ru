# A package with no parts.
BASE <https://w3id.org/twinfed/federation/package/P-1-SITE-A-to-SITE-B/1/>
PREFIX tf:      <https://w3id.org/twinfed/ontology#>
PREFIX dcterms: <http://purl.org/dc/terms/>

DELETE WHERE { GRAPH <manifest> { <../1> dcterms:hasPart ?part } }
