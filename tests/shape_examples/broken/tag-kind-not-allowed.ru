# A tag whose kind is not one of the four the contract allows.
BASE <https://w3id.org/twinfed/site/SITE-A/>
PREFIX tf:      <https://w3id.org/twinfed/ontology#>
PREFIX xsd:     <http://www.w3.org/2001/XMLSchema#>

DELETE DATA { GRAPH <meta> { <tag/GLC> tf:tagKind "offline" } } ;
INSERT DATA { GRAPH <meta> { <tag/GLC> tf:tagKind "calculated" } }
