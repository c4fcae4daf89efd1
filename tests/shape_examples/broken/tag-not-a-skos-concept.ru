# A tag typed tf:Tag only, not also skos:Concept.
BASE <https://w3id.org/twinfed/site/SITE-A/>
PREFIX tf:      <https://w3id.org/twinfed/ontology#>
PREFIX xsd:     <http://www.w3.org/2001/XMLSchema#>

DELETE DATA { GRAPH <meta> { <tag/GLC> a <http://www.w3.org/2004/02/skos/core#Concept> } }
