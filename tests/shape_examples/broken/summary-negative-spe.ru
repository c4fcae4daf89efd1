# A batch evolution summary with a negative SPE.
BASE <https://w3id.org/twinfed/site/SITE-A/>
PREFIX tf:      <https://w3id.org/twinfed/ontology#>
PREFIX xsd:     <http://www.w3.org/2001/XMLSchema#>

DELETE DATA { GRAPH <batch/B-0003> { <batch/B-0003/mvda> tf:spe "1.2"^^xsd:double } } ;
INSERT DATA { GRAPH <batch/B-0003> { <batch/B-0003/mvda> tf:spe "-0.2"^^xsd:double } }
