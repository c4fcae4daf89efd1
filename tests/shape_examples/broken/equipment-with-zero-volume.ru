# Equipment whose working volume is zero.
BASE <https://w3id.org/twinfed/site/SITE-A/>
PREFIX tf:      <https://w3id.org/twinfed/ontology#>
PREFIX xsd:     <http://www.w3.org/2001/XMLSchema#>

DELETE DATA { GRAPH <meta> { <equipment/BR-200-1> tf:workingVolumeLitre "200.0"^^xsd:double } } ;
INSERT DATA { GRAPH <meta> { <equipment/BR-200-1> tf:workingVolumeLitre "0.0"^^xsd:double } }
