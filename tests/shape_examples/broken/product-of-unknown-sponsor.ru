# A product owned by a sponsor the export does not contain.
BASE <https://w3id.org/twinfed/site/SITE-A/>
PREFIX tf:      <https://w3id.org/twinfed/ontology#>
PREFIX xsd:     <http://www.w3.org/2001/XMLSchema#>

DELETE DATA { GRAPH <meta> { <product/mAb-1> tf:ownedBy <sponsor/SP-1> } } ;
INSERT DATA { GRAPH <meta> { <product/mAb-1> tf:ownedBy <sponsor/SP-9> } }
