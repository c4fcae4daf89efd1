# A deviation event whose magnitude is a word, not a number.
BASE <https://w3id.org/twinfed/site/SITE-A/>
PREFIX tf:      <https://w3id.org/twinfed/ontology#>
PREFIX xsd:     <http://www.w3.org/2001/XMLSchema#>

DELETE DATA { GRAPH <batch/B-0003> { <batch/B-0003/event/1> tf:magnitude "3.4"^^xsd:double } } ;
INSERT DATA { GRAPH <batch/B-0003> { <batch/B-0003/event/1> tf:magnitude "large" } }
