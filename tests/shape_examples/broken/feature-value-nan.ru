# A feature whose value is NaN.
BASE <https://w3id.org/twinfed/site/SITE-A/>
PREFIX tf:      <https://w3id.org/twinfed/ontology#>
PREFIX xsd:     <http://www.w3.org/2001/XMLSchema#>

DELETE DATA { GRAPH <batch/B-0003> { <batch/B-0003/feature/DO101.PV/growth/mean> tf:value "41.7"^^xsd:double } } ;
INSERT DATA { GRAPH <batch/B-0003> { <batch/B-0003/feature/DO101.PV/growth/mean> tf:value "NaN"^^xsd:double } }
