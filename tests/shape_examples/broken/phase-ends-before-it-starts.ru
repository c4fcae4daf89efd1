# A phase whose start hour is after its end hour.
BASE <https://w3id.org/twinfed/site/SITE-A/>
PREFIX tf:      <https://w3id.org/twinfed/ontology#>
PREFIX xsd:     <http://www.w3.org/2001/XMLSchema#>

DELETE DATA { GRAPH <batch/B-0003> { <batch/B-0003/phase/1> tf:startHour "0.0"^^xsd:double } } ;
INSERT DATA { GRAPH <batch/B-0003> { <batch/B-0003/phase/1> tf:startHour "100.0"^^xsd:double } }
